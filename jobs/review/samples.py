"""Review samples and verdicts: what the pilots write for experts to judge, and what the experts answer.

The pilot (one stage run per step) calls `add_samples`; the review page calls `queue`, `sample` and `add_verdict`.
Model names never leave this module towards a reviewer: `sample` drops them, and each reviewer sees the samples in
their own deterministic shuffle (`queue`), so no one grades a brand or the order a pilot happened to write.
"""
from __future__ import annotations

import hashlib
import json
from datetime import datetime, timezone

from warehouse import new_run_id

STEPS = ("keyword_expansion", "relevance_judging", "qa_generation", "solving", "cot_validation")
LEGACY_STEPS = ("relevance", "generation")     # the first names, still accepted
VERDICTS = ("correct", "error")
KINDS = ("wrong_answer", "unsupported_step", "ambiguous", "answerable_without_video", "unsafe", "other")
# keys that could name the model (or let a reviewer look it up) are stripped from what the page shows
HIDDEN_KEYS = frozenset({"model", "models", "candidate", "endpoint", "call_id", "provider", "price"})
MAX_NOTE = 2000


def _now() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


def sample_id(step: str, model: str, item_id: str) -> str:
    """A stable id that reveals nothing about the model (a re-pilot of the same item rewrites the same row)."""
    return "rs-" + hashlib.sha256(f"{step}\x00{model}\x00{item_id}".encode()).hexdigest()[:16]


def _json(value) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)


def add_samples(wh, run, rows: list[dict]) -> dict[str, int] | None:
    """Write pilot outputs to `review_samples` through `run` (a warehouse Run, so counts and run_id are recorded).

    Each row needs step, model, item_id, input (dict or JSON), output (dict or JSON); optional: stratum,
    video_id / video_path (default: taken from input), frame_timestamps, call_id, created_at. Merged by sample_id,
    never scoped: re-piloting a step keeps the samples (and verdicts) of items it no longer draws.
    """
    out = []
    for r in rows:
        step, model, item = r.get("step"), r.get("model"), r.get("item_id")
        if step not in STEPS + LEGACY_STEPS:
            raise ValueError(f"review sample {item!r}: unknown step {step!r}; steps: {', '.join(STEPS)}")
        if not model or not item:
            raise ValueError(f"review sample of step {step}: model and item_id are required (got {model!r}, {item!r})")
        inp = r.get("input") or {}
        inp_d = json.loads(inp) if isinstance(inp, str) else inp
        out.append({
            "sample_id": r.get("sample_id") or sample_id(step, model, item), "step": step, "model": model,
            "item_id": item, "stratum": r.get("stratum"), "input": _json(inp), "output": _json(r.get("output") or {}),
            "video_id": r.get("video_id") or inp_d.get("video_id"),
            "video_path": r.get("video_path") or inp_d.get("video_path"),
            "frame_timestamps": [float(t) for t in r.get("frame_timestamps") or []],
            "call_id": r.get("call_id"), "created_at": r.get("created_at") or _now()})
    return run.write("review_samples", out)


def _shuffle_key(reviewer: str, sid: str) -> str:
    return hashlib.sha256(f"{reviewer}\x00{sid}".encode()).hexdigest()


def queue(wh, reviewer: str, step: str | None = None) -> list[str]:
    """The sample ids `reviewer` judges, in their own deterministic shuffle (stable across visits, different per
    reviewer, independent of model and write order)."""
    sql = "SELECT sample_id FROM review_samples" + (" WHERE step = ?" if step else "")
    ids = wh.query(sql, [step] if step else []).get_column("sample_id").to_list()
    return sorted(ids, key=lambda s: _shuffle_key(reviewer, s))


def judged(wh, reviewer: str) -> dict[str, dict]:
    """sample_id -> this reviewer's verdict row."""
    df = wh.query("SELECT sample_id, verdict, kind, note, judged_at FROM review_verdicts WHERE reviewer = ?",
                  [reviewer])
    return {r["sample_id"]: r for r in df.iter_rows(named=True)}


def _hide(value):
    """`value` without keys that could name the model, at any depth."""
    if isinstance(value, dict):
        return {k: _hide(v) for k, v in value.items() if k not in HIDDEN_KEYS}
    if isinstance(value, list):
        return [_hide(v) for v in value]
    return value


def _load_json(text: str | None):
    try:
        return json.loads(text) if text else {}
    except ValueError:
        return {"text": text}


def sample(wh, sid: str) -> dict | None:
    """What a reviewer sees of one sample: step, input, output, frame instants; never the model."""
    df = wh.query("""SELECT sample_id, step, input, output, video_id, frame_timestamps
                     FROM review_samples WHERE sample_id = ?""", [sid])
    if df.is_empty():
        return None
    r = df.row(0, named=True)
    return {"sample_id": r["sample_id"], "step": r["step"], "video_id": r["video_id"],
            "input": _hide(_load_json(r["input"])), "output": _hide(_load_json(r["output"])),
            "frame_timestamps": list(r["frame_timestamps"] or [])}


def video_of(wh, sid: str) -> tuple[str | None, list[float]]:
    """(video_path, frame_timestamps) of a sample, for decoding its frames."""
    df = wh.query("SELECT video_path, frame_timestamps FROM review_samples WHERE sample_id = ?", [sid])
    if df.is_empty():
        raise KeyError(sid)
    r = df.row(0, named=True)
    return r["video_path"], list(r["frame_timestamps"] or [])


def add_verdict(wh, sid: str, reviewer: str, verdict: str, kind: str | None = None, note: str | None = None) -> dict:
    """Store `reviewer`'s verdict on `sid` (replacing their earlier one). Raises ValueError naming what is wrong."""
    if verdict not in VERDICTS:
        raise ValueError(f"verdict must be one of {', '.join(VERDICTS)}, got {verdict!r}")
    if verdict == "error" and kind not in KINDS:
        raise ValueError(f"an error needs a kind, one of {', '.join(KINDS)}; got {kind!r}")
    if verdict == "correct":
        kind = None
    if not reviewer:
        raise ValueError("a verdict needs a reviewer")
    if wh.query("SELECT 1 FROM review_samples WHERE sample_id = ?", [sid]).is_empty():
        raise KeyError(f"no review sample {sid!r}")
    row = {"sample_id": sid, "reviewer": reviewer, "verdict": verdict, "kind": kind,
           "note": (note or "").strip()[:MAX_NOTE] or None, "judged_at": _now()}
    wh.write("review_verdicts", [row], new_run_id("review-page"))
    return row


def verdict_rows(wh, step: str | None = None) -> list[dict]:
    """Verdicts joined to their sample's step and model (the input of jobs.review.selection)."""
    sql = """SELECT s.step, s.model, v.sample_id, v.reviewer, v.verdict, v.kind, v.judged_at
             FROM review_verdicts v JOIN review_samples s USING (sample_id)""" + (" WHERE s.step = ?" if step else "")
    return wh.query(sql, [step] if step else []).to_dicts()


def models_per_step(wh) -> dict[str, list[str]]:
    """step -> candidate models that have samples (a model with samples but no verdicts still shows, with n = 0)."""
    df = wh.query("SELECT DISTINCT step, model FROM review_samples ORDER BY step, model")
    out: dict[str, list[str]] = {}
    for r in df.iter_rows(named=True):
        out.setdefault(r["step"], []).append(r["model"])
    return out
