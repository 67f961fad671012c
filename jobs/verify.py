"""Verify stage: three checks per candidate, one `checks` row each; `verified_qa` = candidates passing all three.

- self_consistency (role `solver`): k samples with the video (frames + question), context sample index i.
  Passes when at least ceil(threshold * k) answers agree with the candidate's answer.
- video_dependency (role `blind_solver`): n tries with the question, the page text (title, description,
  captions, quoted as untrusted data) and ONE frame. Multiple choice passes when the blind answer is wrong in
  at least m of n tries (a lucky guess is not solvability); open-ended passes when no try matches the reference.
- cot_validation (role `cot_validator`): every step of `think` judged grounded in the video or in standard
  knowledge; fails on any ungrounded step.

A check whose model calls failed is written with passed = NULL (outcome 'error' in v_rejection_reasons) and the
candidate is not verified; a rerun retries it. Params (also `[verify]` in videokr.toml): k, threshold, n, m,
temperature, oe_extra_words (extra words an open-ended answer may add, see open_match), cascade (skip later
checks once one fails, to save calls; default off so every candidate gets all three rows), attach_frames,
n_frames, chunk_videos (videos per committed chunk).

Durable and incremental: each chunk of videos commits its candidates' checks, verified rows, ledger rows, quarantine
rows and the candidates' input fingerprints in one transaction; a rerun skips every candidate whose fingerprint
(candidate row, page text, captions, file, judging models, prompt versions, params) is unchanged.
"""
from __future__ import annotations

import json
import logging
import math
import re

import polars as pl

from jobs.prompts import load_prompt
from jobs.media.model_frames import load as load_frames, stored_timestamps
from jobs.prompts.messages import captions_text, page_data_blocks, question_block, user_content
from jobs.sources.base import ChatRequest, CoTVerdict, SolverAnswer
from videokr.settings import Settings
from warehouse import Warehouse, stage_run
from warehouse.runs import fingerprint

log = logging.getLogger("videokr.verify")

CHECKS = ("cot_validation", "video_dependency", "self_consistency")    # cheapest first (cascade order)
DEFAULTS = {"k": 5, "threshold": 0.6, "n": 3, "m": 2, "temperature": 1.0, "oe_extra_words": 3, "cascade": False,
            "attach_frames": None, "n_frames": None, "chunk_videos": 50}
LETTERS = "ABCDEFGHIJ"
_NUM = re.compile(r"[-+]?\d*\.?\d+(?:e[-+]?\d+)?", re.I)


# ---------------------------------------------------------------------- answer comparison


def _norm(text: str) -> str:
    return " ".join(re.sub(r"[^0-9a-z.+-]+", " ", str(text).lower()).split()).strip(" .")


def mc_letter(answer: str, options: list[str]) -> str | None:
    """The option letter a reply means: 'B', 'B.', '(B)', 'Answer: B', or an option's text."""
    a = (answer or "").strip()
    m = re.match(r"^(?:answer\s*[:\-]?\s*)?[(\[]?([A-J])[)\].:]?(?:\s|$)", a, re.I)
    if m and m.group(1).upper() in LETTERS[:len(options)]:
        return m.group(1).upper()
    for i, opt in enumerate(options):
        if _norm(re.sub(r"^\s*[A-J][.)]\s*", "", opt)) == _norm(a):
            return LETTERS[i]
    return None


_ARTICLES = {"a", "an", "the"}
_NEGATIONS = {"not", "no", "never", "neither", "nor", "none"}


def _tokens(text: str) -> list[str]:
    return [t for t in _norm(text).split() if t not in _ARTICLES]


def open_match(reference: str, answer: str, max_extra: int = 3) -> bool:
    """Open-ended agreement, strict on what carries meaning (numbers, order, negation), lenient on phrasing:

    - numbers: both have the same numbers in the same order (1% tolerance) and the same other words;
    - otherwise the reference's words appear in the answer in order, with at most `max_extra` extra words and
      no negation the reference lacks ('normal sinus rhythm' ~ 'a normal sinus rhythm', but 'shifts left' is not
      'shifts right' and 'A, B, C' is not 'A, C, B').
    """
    r, a = _tokens(reference), _tokens(answer)
    if not r or not a:
        return False
    if r == a:
        return True
    rn = [t for t in r if _NUM.fullmatch(t)]
    an = [t for t in a if _NUM.fullmatch(t)]
    if rn or an:
        if len(rn) != len(an) or [t for t in r if t not in rn] != [t for t in a if t not in an]:
            return False
        return all(math.isclose(float(x), float(y), rel_tol=0.01, abs_tol=1e-9) for x, y in zip(rn, an))
    if len(a) - len(r) > max_extra or (set(a) & _NEGATIONS) - set(r):
        return False
    it = iter(a)
    return all(tok in it for tok in r)


def agrees(cand: dict, answer: str, max_extra: int = 3) -> bool:
    if cand["problem_type"] == "multiple choice":
        return mc_letter(answer, list(cand["options"] or [])) == cand["answer"]
    return open_match(cand["answer"], answer, max_extra)


# ---------------------------------------------------------------------- requests


def solve_request(cand: dict, prompt, parts: list[dict], n_frames: int, sample: int, temperature: float,
                  blind: bool, page: str = "") -> ChatRequest:
    intro = ("One frame of the video:" if blind else f"Frames of the video, in time order ({n_frames}):")
    user = user_content(intro, parts, (page + "\n\n" if page else "") + question_block(cand["question"],
                        cand["options"]), "Answer as JSON.")
    return ChatRequest(role="blind_solver" if blind else "solver", task="solve", prompt_version=prompt.id,
                       schema=SolverAnswer, temperature=temperature,
                       messages=[{"role": "system", "content": prompt.text}, {"role": "user", "content": user}],
                       context={"video_id": cand["video_id"], "n_frames": 1 if blind else n_frames, "sample": sample,
                                "question": cand["question"], "options": list(cand["options"] or []),
                                "problem_type": cand["problem_type"]})


def cot_request(cand: dict, prompt, parts: list[dict], n_frames: int) -> ChatRequest:
    answer = cand["answer"]
    if cand["problem_type"] == "multiple choice":
        answer = next((o for o in cand["options"] if o.startswith(answer + ".")), answer)
    chain = question_block(cand["question"], cand["options"]) + "\n\nProposed answer: " + answer + \
        "\n\nReasoning chain to judge (one step per line):\n```chain\n" + cand["think"].replace("```", "'''") + "\n```"
    user = user_content(f"Frames of the video, in time order ({n_frames}):", parts, chain, "Judge every step as JSON.")
    return ChatRequest(role="cot_validator", task="validate_cot", prompt_version=prompt.id, schema=CoTVerdict,
                       messages=[{"role": "system", "content": prompt.text}, {"role": "user", "content": user}],
                       context={"video_id": cand["video_id"], "n_frames": n_frames, "question": cand["question"],
                                "answer": cand["answer"], "think": cand["think"]})


# ---------------------------------------------------------------------- check outcomes


def _row(cand, name, passed, score, details, results) -> dict:
    first = results[0] if results else None
    return {"candidate_id": cand["candidate_id"], "check_name": name, "passed": passed,
            "score": None if score is None else round(float(score), 4),
            "details": json.dumps(details, sort_keys=True, ensure_ascii=False),
            "model": first.model if first else None, "call_id": first.call_id if first else None,
            "subject_id": cand["subject_id"]}


def _failed(cand, name, results) -> dict | None:
    errors = [f"{r.status}: {r.error}" for r in results if r.parsed is None]
    if errors:
        return _row(cand, name, None, None, {"error": errors[0], "failed_calls": len(errors)}, results)
    return None


def judge_self_consistency(cand, results, p) -> dict:
    if (bad := _failed(cand, "self_consistency", results)) is not None:
        return bad
    answers = [r.parsed.answer for r in results]
    agree = sum(agrees(cand, a, int(p["oe_extra_words"])) for a in answers)
    need = math.ceil(p["threshold"] * len(results) - 1e-9)
    return _row(cand, "self_consistency", agree >= need, agree / len(results),
                {"answers": answers, "agree": agree, "k": len(results), "need": need}, results)


def judge_video_dependency(cand, results, p) -> dict:
    if (bad := _failed(cand, "video_dependency", results)) is not None:
        return bad
    answers = [r.parsed.answer for r in results]
    right = sum(agrees(cand, a, int(p["oe_extra_words"])) for a in answers)
    wrong = len(results) - right
    mc = cand["problem_type"] == "multiple choice"
    passed = wrong >= p["m"] if mc else right == 0
    return _row(cand, "video_dependency", passed, wrong / len(results),
                {"blind_answers": answers, "blind_correct": right, "n": len(results),
                 "must_fail": p["m"] if mc else len(results)}, results)


def judge_cot(cand, results, p) -> dict:
    if (bad := _failed(cand, "cot_validation", results)) is not None:
        return bad
    v: CoTVerdict = results[0].parsed
    ungrounded = [s.step for s in v.steps if not s.grounded]
    grounded = len(v.steps) - len(ungrounded)
    passed = bool(v.steps) and v.valid and not ungrounded
    return _row(cand, "cot_validation", passed, grounded / len(v.steps) if v.steps else 0.0,
                {"steps": len(v.steps), "ungrounded": ungrounded, "valid": v.valid}, results)


JUDGES = {"self_consistency": judge_self_consistency, "video_dependency": judge_video_dependency,
          "cot_validation": judge_cot}


# ---------------------------------------------------------------------- stage


def load_candidates(wh: Warehouse, subjects: list[str]) -> list[dict]:
    return wh.query("""
        SELECT c.*, v.title, v.description, d.path
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
    if not (p["k"] >= 1 and 0 < float(p["threshold"]) <= 1 and 1 <= p["m"] <= p["n"]):
        raise ValueError(f"verify: need k >= 1, 0 < threshold <= 1, 1 <= m <= n; got {p}")
    subjects = list(subjects or [])
    with Warehouse(settings) as wh, stage_run(wh, "verify", {"subjects": subjects}, p) as run:
        layer = ModelLayer(settings, run, run.run_id, offline_model=offline_model)
        prompts = {t: load_prompt(t, settings=settings) for t in ("solve", "validate_cot")}
        attach = p["attach_frames"]
        if attach is None:
            attach = any(layer.cfg.role(r).backend != "offline" for r in ("solver", "blind_solver", "cot_validator"))
        n_frames = int(p["n_frames"] or layer.cfg.frames["count"])
        cands = load_candidates(wh, subjects)
        todo, cues = changed_candidates(wh, run, layer, cands, prompts, p, attach, n_frames)
        by_video: dict[str, list[dict]] = {}
        for c in todo:
            by_video.setdefault(c["video_id"], []).append(c)
        vids = list(by_video)
        log.info("verify: %d candidates in scope, %d unchanged (skipped), %d to check in %d videos",
                 len(cands), run.skipped, len(todo), len(vids))
        n_rows = 0
        for i in range(0, len(vids), p["chunk_videos"]):
            chunk = {v: by_video[v] for v in vids[i:i + p["chunk_videos"]]}
            with run.chunk():     # checks, verified_qa, ledger, quarantine and fingerprints of the chunk: one commit
                rows = verify_chunk(run, layer, prompts, chunk, cues, p, attach, n_frames)
                write_results(run, [c for cs in chunk.values() for c in cs], rows)
                layer.flush()
            n_rows += len(rows)
            log.info("verify: %d/%d videos, %d check rows", min(i + p["chunk_videos"], len(vids)), len(vids), n_rows)
        drop_stale(wh, run, subjects, {c["candidate_id"] for c in cands})
        summary, verified = totals(wh, subjects)
        log.info("verify: %d candidates, %d verified; %s", len(cands), verified, summary)
        return {"run_id": run.run_id, "stage": "verify", "rows": dict(run.rows), "candidates": len(cands),
                "changed": any(run.rows.values()),
                "verified": verified, "checks": summary, "params": {k: p[k] for k in ("k", "threshold", "n", "m")},
                "skipped": run.skipped, "cache_hits": layer.ledger.totals["cache_hits"]}


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
                                                         "cascade")}}
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
                 n_frames: int) -> list[dict]:
    """All check rows for the candidates of a few videos (frames decoded once per video)."""
    parts: dict[str, tuple[list, list]] = {}
    budget = layer.frame_budget(n_frames)
    stamps = stored_timestamps(run.wh, list(chunk), budget) if attach else {}
    for vid, cs in list(chunk.items()):
        if not attach:
            parts[vid] = ([], [])
            continue
        try:
            clip = load_frames(cs[0]["path"], budget, stamps.get(vid))
            parts[vid] = (layer.image_parts(clip), layer.image_parts(clip.one()))
        except Exception as exc:  # noqa: BLE001 - quarantined, the run goes on
            run.quarantine(vid, "frames_unreadable", f"{cs[0]['path']}: {exc}")
            del chunk[vid]
    alive = [c for cs in chunk.values() for c in cs]
    rows: list[dict] = []
    rounds = [[c] for c in CHECKS] if p["cascade"] else [list(CHECKS)]
    for names in rounds:
        plan: list[tuple[dict, str, int]] = []      # (candidate, check, number of requests)
        reqs: list[ChatRequest] = []
        for c in alive:
            full, one = parts[c["video_id"]]
            for name in names:
                new = build(name, c, prompts, full, one, n_frames, p, cues.get(c["video_id"], []))
                plan.append((c, name, len(new)))
                reqs += new
        results = layer.call_many(reqs)
        pos, failed = 0, set()
        for c, name, count in plan:
            row = JUDGES[name](c, results[pos:pos + count], p)
            pos += count
            rows.append(row)
            if row["passed"] is not True:
                failed.add(c["candidate_id"])
        alive = [c for c in alive if c["candidate_id"] not in failed]
    return rows


def build(name: str, c: dict, prompts: dict, full: list, one: list, n_frames: int, p: dict,
          cues: list[dict]) -> list[ChatRequest]:
    t = float(p["temperature"])
    if name == "self_consistency":
        return [solve_request(c, prompts["solve"], full, n_frames, i, t, False) for i in range(p["k"])]
    if name == "video_dependency":
        page = page_data_blocks(c.get("title"), c.get("description"), captions_text(cues))
        return [solve_request(c, prompts["solve"], one, 1, i, t, True, page) for i in range(p["n"])]
    return [cot_request(c, prompts["validate_cot"], full, n_frames)]


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
