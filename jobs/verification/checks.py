"""The three checks, their outcomes, and the early-exit runner that decides them with as few calls as possible.

Order, cheapest first (`ORDER`): video dependency (n tries with ONE frame each: the fewest image tokens per call),
CoT validation (one call with the clip), self-consistency (k calls with the clip). With `early_exit` (the default)
a candidate stops at its first failing check, and inside a check sampling stops as soon as the outcome is decided:
- self-consistency passes once `need` = ceil(threshold * k) samples agree, fails once that can no longer happen;
- video dependency fails once `limit` blind tries answered correctly (multiple choice: m of the n tries, since a
  lucky guess among 4-10 options is common; open-ended: one, since a guess never matches a reference), passes once
  the remaining tries could no longer reach it.
Each outcome depends only on the calls' answers, and each call's request is the same whether or not earlier calls
were made, so the verified set equals the one with every check run in full (`early_exit = false`, which also
writes every check's row for every candidate: what `v_check_catch_rates` measures catch rates on).
A check whose call failed ends with passed = NULL (an error, retried next run).
"""
from __future__ import annotations

import json
import math
from typing import Callable

from jobs.sources.base import CoTVerdict
from jobs.verification.answers import agrees

ORDER = ("video_dependency", "cot_validation", "self_consistency")


def planned(name: str, p: dict) -> int:
    """Calls a check makes when run in full."""
    return {"self_consistency": p["k"], "video_dependency": p["n"], "cot_validation": 1}[name]


def vd_limit(cand: dict, p: dict) -> int:
    """Blind tries that must answer correctly to drop the candidate."""
    return p["m"] if cand["problem_type"] == "multiple choice" else 1


def outcome(name: str, cand: dict, results: list, p: dict) -> bool | None:
    """True / False once the check's outcome is settled by `results` (whatever the remaining calls answer), or
    None while it is not. A failed call settles it (as an error)."""
    if any(r.parsed is None for r in results):
        return False
    rest = planned(name, p) - len(results)
    extra = int(p["oe_extra_words"])
    if name == "self_consistency":
        agree = sum(agrees(cand, r.parsed.answer, extra) for r in results)
        need = math.ceil(float(p["threshold"]) * p["k"] - 1e-9)
        return True if agree >= need else False if agree + rest < need else None
    if name == "video_dependency":
        right = sum(agrees(cand, r.parsed.answer, extra) for r in results)
        limit = vd_limit(cand, p)
        return False if right >= limit else True if right + rest < limit else None
    return bool(results) or None


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


def judge_self_consistency(cand, results, p, extra: dict) -> dict:
    if (bad := _failed(cand, "self_consistency", results)) is not None:
        return bad
    answers = [r.parsed.answer for r in results]
    agree = sum(agrees(cand, a, int(p["oe_extra_words"])) for a in answers)
    need = math.ceil(float(p["threshold"]) * p["k"] - 1e-9)
    return _row(cand, "self_consistency", agree >= need, agree / len(results),
                {"answers": answers, "agree": agree, "k": p["k"], "calls": len(results), "need": need}, results)


def judge_video_dependency(cand, results, p, extra: dict) -> dict:
    if (bad := _failed(cand, "video_dependency", results)) is not None:
        return bad
    answers = [r.parsed.answer for r in results]
    right = sum(agrees(cand, a, int(p["oe_extra_words"])) for a in answers)
    limit = vd_limit(cand, p)
    return _row(cand, "video_dependency", right < limit, 1 - right / len(results),
                {"blind_answers": answers, "blind_correct": right, "n": p["n"], "calls": len(results),
                 "drop_at": limit, "frames": extra.get("frames", [])[:len(results)],
                 "frame_choice": p["frame_choice"]}, results)


def judge_cot(cand, results, p, extra: dict) -> dict:
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
Build = Callable[[str, dict, int], object]        # (check, candidate, call index) -> ChatRequest


def run_checks(layer, cands: list[dict], build: Build, p: dict, extra: dict[str, dict],
               order: tuple[str, ...] = ORDER) -> tuple[list[dict], int]:
    """Every check row for `cands`, in rounds: each round sends every unsettled candidate's next call (early exit)
    or all of its check's calls (full). `order`: the checks to run (the evaluation set runs video_dependency only).
    Returns (rows, calls made)."""
    early = bool(p["early_exit"])
    state = {c["candidate_id"]: {"cand": c, "check": 0, "results": []} for c in cands}
    rows, calls = [], 0
    while state:
        reqs, who = [], []
        for cid, st in state.items():
            name, c = order[st["check"]], st["cand"]
            start = len(st["results"])
            count = 1 if early else planned(name, p) - start
            reqs += [build(name, c, start + i) for i in range(count)]
            who.append((cid, count))
        results = layer.call_many(reqs)
        calls += len(reqs)
        pos = 0
        for cid, count in who:
            st = state[cid]
            st["results"] += results[pos:pos + count]
            pos += count
            name, c = order[st["check"]], st["cand"]
            settled = outcome(name, c, st["results"], p) if early else None
            if settled is None and len(st["results"]) < planned(name, p):
                continue
            row = JUDGES[name](c, st["results"], p, extra.get(cid, {}))
            rows.append(row)
            st["check"], st["results"] = st["check"] + 1, []
            if st["check"] == len(order) or (early and row["passed"] is not True):
                del state[cid]
    return rows, calls
