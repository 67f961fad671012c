"""Verify stage: three checks per candidate, one `checks` row each; `verified_qa` = candidates passing all three.

- video_dependency (role `blind_solver`): n tries, each with the question, the page text (title, description,
  captions, quoted as untrusted data) and ONE frame: by `frame_choice` the first, the middle, the one nearest the
  evidence time the generator named, then seeded random ones. Dropped when m tries (multiple choice; open-ended:
  one) answer correctly: text plus a single frame solves it.
- cot_validation (role `cot_validator`): every step of `think` judged grounded in the video or in standard
  knowledge; fails on any ungrounded step.
- self_consistency (role `solver`): k samples with the video (frames + question), context sample index i.
  Passes when at least ceil(threshold * k) answers agree with the candidate's answer.

Checks run cheapest first and stop early (jobs/verification/checks.py); `early_exit = false` runs every call of
every check (the same verified set, for measurement). The generator, the solvers and the validator must be different
models (`ModelLayer.check_independence`, also against the models that wrote the candidates), checked before any work.
A check whose model calls failed is written with passed = NULL (outcome 'error' in v_rejection_reasons) and the
candidate is not verified; a rerun retries it. Params (also `[verify]` in videokr.toml): k, threshold, n, m,
frame_choice, temperature, oe_extra_words (extra words an open-ended answer may add, see open_match), early_exit,
attach_frames, n_frames, chunk_videos (videos per committed chunk). Every request's context carries `frame_times`,
the instants of the frames the model sees.

Durable and incremental: each chunk of videos commits its candidates' checks, verified rows, ledger rows, quarantine
rows and the candidates' input fingerprints in one transaction; a rerun skips every candidate whose fingerprint
(candidate row, page text, captions, file, judging models, prompt versions, params) is unchanged.
"""
from __future__ import annotations

import json
import logging
import re

import polars as pl

from jobs.media.model_frames import load as load_frames
from jobs.media.model_frames import request_times, stored_timestamps
from jobs.prompts import load_prompt
from jobs.prompts.messages import (
    captions_text,
    page_data_blocks,
    question_block,
    user_content,
)
from jobs.sources.base import ChatRequest, CoTVerdict, SolverAnswer
from jobs.verification.checks import ORDER, run_checks
from videokr.settings import Settings
from warehouse import Warehouse, stage_run
from warehouse.runs import fingerprint

log = logging.getLogger("videokr.verify")

CHECKS = ORDER                                                          # cheapest first
FRAME_CHOICE = "evidence,middle,first,random"     # the most telling single frame first: a solvable item exits sooner
DEFAULTS = {"k": 3, "threshold": 0.6, "n": 2, "m": 2, "temperature": 1.0, "oe_extra_words": 3, "early_exit": True,
            "frame_choice": FRAME_CHOICE,
            "attach_frames": None, "n_frames": None, "chunk_videos": 50}


# ---------------------------------------------------------------------- requests


def solve_request(cand: dict, prompt, parts: list[dict], n_frames: int, sample: int, temperature: float,
                  blind: bool, page: str = "", times: list[float] | None = None) -> ChatRequest:
    intro = ("One frame of the video:" if blind else f"Frames of the video, in time order ({n_frames}):")
    user = user_content(intro, parts, (page + "\n\n" if page else "") + question_block(cand["question"],
                        cand["options"]), "Answer as JSON.")
    return ChatRequest(role="blind_solver" if blind else "solver", task="solve", prompt_version=prompt.id,
                       schema=SolverAnswer, temperature=temperature,
                       messages=[{"role": "system", "content": prompt.text}, {"role": "user", "content": user}],
                       context={"video_id": cand["video_id"], "n_frames": 1 if blind else n_frames, "sample": sample,
                                "question": cand["question"], "options": list(cand["options"] or []),
                                "problem_type": cand["problem_type"], "frame_times": list(times or [])})


def cot_request(cand: dict, prompt, parts: list[dict], n_frames: int, times: list[float] | None = None) -> ChatRequest:
    answer = cand["answer"]
    if cand["problem_type"] == "multiple choice":
        answer = next((o for o in cand["options"] if o.startswith(answer + ".")), answer)
    chain = question_block(cand["question"], cand["options"]) + "\n\nProposed answer: " + answer + \
        "\n\nReasoning chain to judge (one step per line):\n```chain\n" + cand["think"].replace("```", "'''") + "\n```"
    user = user_content(f"Frames of the video, in time order ({n_frames}):", parts, chain, "Judge every step as JSON.")
    return ChatRequest(role="cot_validator", task="validate_cot", prompt_version=prompt.id, schema=CoTVerdict,
                       messages=[{"role": "system", "content": prompt.text}, {"role": "user", "content": user}],
                       context={"video_id": cand["video_id"], "n_frames": n_frames, "question": cand["question"],
                                "answer": cand["answer"], "think": cand["think"], "frame_times": list(times or [])})


# ---------------------------------------------------------------------- stage


def load_candidates(wh: Warehouse, subjects: list[str]) -> list[dict]:
    return wh.query("""
        SELECT c.*, v.title, v.description, v.duration_s, d.path
        FROM candidates c LEFT JOIN videos v ON v.video_id = c.video_id LEFT JOIN downloads d ON d.video_id = c.video_id
        WHERE ? OR c.subject_id IN (SELECT unnest(?::VARCHAR[]))
        ORDER BY c.video_id, c.candidate_id""", [not subjects, subjects]).to_dicts()


def run(settings: Settings | None = None, subjects: list[str] | None = None, params: dict | None = None,
        offline_model=None) -> dict:
    """Run the stage for `subjects` (all when empty). `offline_model`: a ChatModel to stand in for offline roles
    (default: the offline model over the sample library)."""
    from jobs.llm import ModelLayer
    settings = settings or Settings.load()
    p = {**DEFAULTS, **settings.section("verify"), **{k: v for k, v in (params or {}).items() if v is not None}}
    for key in ("k", "n", "m", "chunk_videos"):
        p[key] = int(p[key])
    p["early_exit"] = str(p["early_exit"]).strip().lower() not in ("false", "0", "no", "off", "")
    if not (p["k"] >= 1 and 0 < float(p["threshold"]) <= 1 and 1 <= p["m"] <= p["n"]):
        raise ValueError(f"verify: need k >= 1, 0 < threshold <= 1, 1 <= m <= n; got {p}")
    subjects = list(subjects or [])
    with Warehouse(settings) as wh, stage_run(wh, "verify", {"subjects": subjects}, p) as run:
        layer = ModelLayer(settings, run, run.run_id, offline_model=offline_model)
        cands = load_candidates(wh, subjects)
        writers: dict[str, int] = {}
        for c in cands:
            writers[c["model"]] = writers.get(c["model"], 0) + 1
        layer.check_independence(run, writers)   # before any work: nobody grades their own items
        prompts = {t: load_prompt(t, settings=settings) for t in ("solve", "validate_cot")}
        attach = p["attach_frames"]
        if attach is None:
            attach = any(layer.cfg.role(r).backend != "offline" for r in ("solver", "blind_solver", "cot_validator"))
        n_frames = int(p["n_frames"] or layer.cfg.frames["count"])
        todo, cues = changed_candidates(wh, run, layer, cands, prompts, p, attach, n_frames)
        by_video: dict[str, list[dict]] = {}
        for c in todo:
            by_video.setdefault(c["video_id"], []).append(c)
        vids = list(by_video)
        log.info("verify: %d candidates in scope, %d unchanged (skipped), %d to check in %d videos",
                 len(cands), run.skipped, len(todo), len(vids))
        n_rows = calls = 0
        for i in range(0, len(vids), p["chunk_videos"]):
            chunk = {v: by_video[v] for v in vids[i:i + p["chunk_videos"]]}
            with run.chunk():     # checks, verified_qa, ledger, quarantine and fingerprints of the chunk: one commit
                rows, n = verify_chunk(run, layer, prompts, chunk, cues, p, attach, n_frames)
                write_results(run, [c for cs in chunk.values() for c in cs], rows)
                layer.flush()
            n_rows, calls = n_rows + len(rows), calls + n
            log.info("verify: %d/%d videos, %d check rows", min(i + p["chunk_videos"], len(vids)), len(vids), n_rows)
        drop_stale(wh, run, subjects, {c["candidate_id"] for c in cands})
        summary, verified = totals(wh, subjects)
        log.info("verify: %d candidates, %d verified; %s", len(cands), verified, summary)
        return {"run_id": run.run_id, "stage": "verify", "rows": dict(run.rows), "candidates": len(cands),
                "changed": run.changed,
                "verified": verified, "checks": summary, "calls": calls,
                "params": {k: p[k] for k in ("k", "threshold", "n", "m", "frame_choice", "early_exit")},
                "skipped": run.skipped, "cache_hits": layer.ledger.totals["cache_hits"],
                "tokens": {k: layer.ledger.totals[k] for k in ("tokens_in", "tokens_out")}}


_VERIFIED_COLS = ["candidate_id", "video_id", "kp_id", "subject_id", "skill", "problem_type", "question", "options",
                  "answer", "think", "model", "prompt_version", "call_id"]


def changed_candidates(wh, run, layer, cands: list[dict], prompts: dict, p: dict, attach: bool,
                       n_frames: int) -> tuple[list[dict], dict]:
    """The candidates whose inputs changed since their checks were committed (all of them on a first run): the
    candidate row, its video's page text, captions and file, the judging models, prompt versions and params. Also
    the captions by video, loaded once for the fingerprints and the checks."""
    from jobs.generate import captions_by_video, file_sha
    ids = sorted({c["video_id"] for c in cands})
    cues, shas = captions_by_video(wh, ids), file_sha(wh, ids)
    models = {r: f"{layer.backend(r).kind}:{layer.backend(r).model}" for r in ("solver", "blind_solver",
                                                                              "cot_validator")}
    fixed = {"models": models, "prompts": {k: v.id for k, v in prompts.items()}, "attach": attach,
             "n_frames": n_frames, **{k: p[k] for k in ("k", "threshold", "n", "m", "temperature", "oe_extra_words",
                                                         "frame_choice", "early_exit")}}
    for c in cands:
        c["_fp"] = fingerprint({k: v for k, v in c.items() if k != "run_id"}, cues.get(c["video_id"], []),
                               shas.get(c["video_id"]), fixed)
    have = run.fingerprints([c["candidate_id"] for c in cands])
    todo = [c for c in cands if have.get(c["candidate_id"]) != c["_fp"]]
    run.skipped = len(cands) - len(todo)
    return todo, cues


def write_results(run, cands: list[dict], rows: list[dict]) -> None:
    """Replace these candidates' checks and verified rows; mark done the candidates whose checks all decided (a
    check whose calls failed is retried next run)."""
    ids = [c["candidate_id"] for c in cands]
    run.write("checks", pl.DataFrame(rows, schema=CHECK_SCHEMA), scope={"candidate_id": ids})
    verified = passing(cands, rows)
    keep = [c for c in cands if c["candidate_id"] in verified]
    run.write("verified_qa", pl.DataFrame([{k: c[k] for k in _VERIFIED_COLS} | rationale_lengths(c["think"])
                                           for c in keep],
                                          schema={k: CAND_SCHEMA[k] for k in _VERIFIED_COLS}
                                          | {"think_words": pl.Int32, "think_steps": pl.Int32}),
              scope={"candidate_id": ids})
    undecided = {r["candidate_id"] for r in rows if r["passed"] is None}
    for r in rows:                             # a check whose calls failed: quarantined with the reason, retried
        if r["passed"] is None:
            run.quarantine(r["candidate_id"], f"{r['check_name']}_failed", json.loads(r["details"]).get("error", ""))
    run.mark_done({c["candidate_id"]: (c["_fp"], c["subject_id"]) for c in cands
                   if c["candidate_id"] not in undecided})


def rationale_lengths(think: str | None) -> dict[str, int]:
    """Words and non-blank lines of a rationale, computed once at write time (as v_dataset_examples defines them)."""
    text = think or ""
    return {"think_words": len(re.split(r"\s+", text.strip(" "))),   # SQL trim() strips spaces only
            "think_steps": sum(1 for line in text.split("\n") if line.strip(" "))}


def drop_stale(wh, run, subjects: list[str], current: set[str]) -> None:
    """Drop checks, verified rows and fingerprints of candidates that no longer exist (in scope)."""
    have = wh.query("""SELECT DISTINCT candidate_id FROM checks WHERE ? OR subject_id IN (SELECT unnest(?::VARCHAR[]))
                       UNION SELECT candidate_id FROM verified_qa
                       WHERE ? OR subject_id IN (SELECT unnest(?::VARCHAR[]))""",
                    [not subjects, subjects, not subjects, subjects])
    run.forget(sorted(set(have["candidate_id"].to_list()) - current),
               {"checks": "candidate_id", "verified_qa": "candidate_id"})


def totals(wh, subjects: list[str]) -> tuple[dict, int]:
    """Per check: passed / failed / error counts in scope, and the verified count (the warehouse's state)."""
    args = [not subjects, subjects]
    df = wh.query("""SELECT check_name, count(*) FILTER (WHERE passed) AS passed,
                            count(*) FILTER (WHERE NOT passed) AS failed, count(*) FILTER (WHERE passed IS NULL) AS error
                     FROM checks WHERE ? OR subject_id IN (SELECT unnest(?::VARCHAR[])) GROUP BY 1""", args)
    got = {r["check_name"]: {k: int(r[k]) for k in ("passed", "failed", "error")} for r in df.to_dicts()}
    summary = {name: got.get(name, {"passed": 0, "failed": 0, "error": 0}) for name in CHECKS}
    verified = wh.query("SELECT count(*) FROM verified_qa WHERE ? OR subject_id IN (SELECT unnest(?::VARCHAR[]))",
                        args).item()
    return summary, int(verified)


def verify_chunk(run, layer, prompts, chunk: dict[str, list[dict]], cues: dict, p: dict, attach: bool,
                 n_frames: int, checks: tuple[str, ...] = CHECKS) -> tuple[list[dict], int]:
    """All check rows for the candidates of a few videos (frames decoded once per video), and the calls made.
    `checks`: which checks (jobs/evalset.py runs video_dependency alone on benchmark items)."""
    clips: dict[str, tuple[list, object]] = {}      # video -> (instants, decoded clip or None)
    budget = layer.frame_budget(n_frames)
    stamps = stored_timestamps(run.wh, list(chunk), budget)
    for vid, cs in list(chunk.items()):
        if not attach:
            clips[vid] = (request_times(cs[0], stamps, budget.frames), None)
            continue
        try:
            clip = load_frames(cs[0]["path"], budget, stamps.get(vid))
            clips[vid] = (list(clip.timestamps), clip)
        except Exception as exc:  # noqa: BLE001 - quarantined, the run goes on
            run.quarantine(vid, "frames_unreadable", f"{cs[0]['path']}: {exc}")
            del chunk[vid]
    alive = [c for cs in chunk.values() for c in cs]
    full = {vid: layer.image_parts(clip) if clip is not None else [] for vid, (_, clip) in clips.items()}
    blind = {c["candidate_id"]: blind_frames(c, clips[c["video_id"]][0], p) for c in alive}
    pages = {vid: page_data_blocks(cs[0].get("title"), cs[0].get("description"), captions_text(cues.get(vid, [])))
             for vid, cs in chunk.items()}
    t = float(p["temperature"])

    def build(name: str, c: dict, i: int) -> ChatRequest:
        times, clip = clips[c["video_id"]]
        if name == "self_consistency":
            return solve_request(c, prompts["solve"], full[c["video_id"]], n_frames, i, t, False, times=times)
        if name == "video_dependency":
            k = blind[c["candidate_id"]][i][1]
            one = layer.image_parts(clip.one(k)) if clip is not None else []
            return solve_request(c, prompts["solve"], one, 1, i, t, True, pages[c["video_id"]], times[k:k + 1])
        return cot_request(c, prompts["validate_cot"], full[c["video_id"]], n_frames, times)

    extra = {c["candidate_id"]: {"frames": [[label, clips[c["video_id"]][0][k] if clips[c["video_id"]][0] else None]
                                            for label, k in blind[c["candidate_id"]]]} for c in alive}
    return run_checks(layer, alive, build, p, extra, checks)


def blind_frames(cand: dict, times: list[float], p: dict) -> list[tuple[str, int]]:
    """(label, index into `times`) of the n single frames of the video-dependency tries, by `frame_choice`: first,
    middle, the one nearest the evidence time the generator named (when it named one), then seeded random ones;
    distinct frames while the video has enough."""
    import random
    if not times:
        return [("none", 0)] * p["n"]
    rng = random.Random(f"blind:{cand['candidate_id']}")
    picks: list[tuple[str, int]] = []
    for label in [x.strip() for x in str(p["frame_choice"]).split(",") if x.strip()]:
        if label == "first":
            picks.append((label, 0))
        elif label == "middle":
            picks.append((label, len(times) // 2))
        elif label == "evidence" and cand.get("evidence_s") is not None:
            picks.append((label, min(range(len(times)), key=lambda i: abs(times[i] - cand["evidence_s"]))))
    seen: set[int] = set()
    picks = [(label, k) for label, k in picks if not (k in seen or seen.add(k))]   # distinct frames, in order
    rest = [i for i in range(len(times)) if i not in seen]
    rng.shuffle(rest)
    picks += [("random", k) for k in rest]
    while len(picks) < p["n"]:
        picks.append(("random", rng.randrange(len(times))))
    return picks[:p["n"]]


def passing(cands: list[dict], rows: list[dict]) -> set[str]:
    ok: dict[str, set[str]] = {}
    for r in rows:
        if r["passed"] is True:
            ok.setdefault(r["candidate_id"], set()).add(r["check_name"])
    return {c["candidate_id"] for c in cands if ok.get(c["candidate_id"], set()) >= set(CHECKS)}


CHECK_SCHEMA = {"candidate_id": pl.Utf8, "check_name": pl.Utf8, "passed": pl.Boolean, "score": pl.Float64,
                "details": pl.Utf8, "model": pl.Utf8, "call_id": pl.Utf8, "subject_id": pl.Utf8}
CAND_SCHEMA = {"candidate_id": pl.Utf8, "video_id": pl.Utf8, "kp_id": pl.Utf8, "subject_id": pl.Utf8,
               "skill": pl.Utf8, "problem_type": pl.Utf8, "question": pl.Utf8, "options": pl.List(pl.Utf8),
               "answer": pl.Utf8, "think": pl.Utf8, "model": pl.Utf8, "prompt_version": pl.Utf8, "call_id": pl.Utf8}
