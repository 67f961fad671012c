"""Re-annotation tasks of the evaluation set: what the review page shows and what the experts answer.

`videokr evalset build` (jobs/evalset.py) writes every fetched benchmark item with its video-dependency outcome to
`eval_candidates`; an item that failed (answerable from its text and one frame) is a task here until an expert
answers it: a rewrite (a new question, with options and answer, grounded in the video) or a drop. The answer lands
in `review_reannotations` under the token's user; the next build turns a rewrite into an `eval_items` row (origin
reannotated) and leaves a dropped item out.
"""
from __future__ import annotations

import json
import re
from datetime import datetime, timezone

from warehouse import new_run_id

ACTIONS = ("rewrite", "drop")
TYPES = ("multiple choice", "open-ended")
LETTERS = "ABCDEFGHIJ"
MAX_TEXT = 4000

_TASKS = """SELECT c.task_id, c.item_id, c.source_benchmark, c.problem_type, c.question, c.options, c.answer,
                   c.subject, c.video_id, c.video_path, c.vd_details, r.action, r.reviewer, r.question AS new_question,
                   r.problem_type AS new_problem_type, r.options AS new_options, r.answer AS new_answer, r.note
            FROM eval_candidates c LEFT JOIN review_reannotations r USING (item_id)
            WHERE c.vd_passed = false"""


def _now() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


def _shown(r: dict) -> dict:
    details = json.loads(r["vd_details"] or "{}")
    frames = [t for _, t in details.get("frames", []) if t is not None]
    answer = None if r["action"] is None else {
        "action": r["action"], "reviewer": r["reviewer"], "question": r["new_question"],
        "problem_type": r["new_problem_type"], "options": list(r["new_options"] or []), "answer": r["new_answer"],
        "note": r["note"]}
    return {"task_id": r["task_id"], "item_id": r["item_id"], "source_benchmark": r["source_benchmark"],
            "subject": r["subject"], "status": r["action"] or "pending",
            "original": {"problem_type": r["problem_type"], "question": r["question"],
                         "options": list(r["options"] or []), "answer": r["answer"]},
            "why": {"blind_answers": details.get("blind_answers", []), "blind_correct": details.get("blind_correct"),
                    "tries": details.get("n")},
            "frame_timestamps": frames, "answer": answer}


def tasks(wh, status: str | None = None) -> list[dict]:
    """Every re-annotation task (pending first, then by item), optionally only those of `status`."""
    rows = [_shown(r) for r in wh.query(_TASKS + " ORDER BY r.action IS NOT NULL, c.item_id").to_dicts()]
    return [t for t in rows if status in (None, t["status"])]


def task(wh, tid: str) -> dict:
    rows = wh.query(_TASKS + " AND c.task_id = ?", [tid]).to_dicts()
    if not rows:
        raise KeyError(f"no re-annotation task {tid!r}")
    return _shown(rows[0])


def video_of(wh, tid: str) -> tuple[str | None, list[float]]:
    """(video_path, instants to show) of a task: the frames the blind solver saw, then evenly over the video."""
    rows = wh.query("SELECT video_path, duration_s, vd_details FROM eval_candidates WHERE task_id = ?",
                    [tid]).to_dicts()
    if not rows:
        raise KeyError(f"no re-annotation task {tid!r}")
    r = rows[0]
    seen = [t for _, t in json.loads(r["vd_details"] or "{}").get("frames", []) if t is not None]
    d = float(r["duration_s"] or 0)
    even = [round((i + 0.5) * d / 8, 3) for i in range(8)] if d else []
    return r["video_path"], sorted(set(seen) | set(even))


def _text(value, what: str) -> str:
    text = str(value or "").strip()
    if not text:
        raise ValueError(f"a rewrite needs {what}")
    if len(text) > MAX_TEXT:
        raise ValueError(f"{what} is longer than {MAX_TEXT} characters")
    return text


def check_rewrite(problem_type: str | None, question, options, answer) -> dict:
    """The rewrite in the VideoKR shape; raises ValueError naming what is wrong."""
    if problem_type not in TYPES:
        raise ValueError(f"problem_type must be one of {', '.join(TYPES)}, got {problem_type!r}")
    q, ans = _text(question, "a question"), _text(answer, "an answer")
    if problem_type == "open-ended":
        return {"problem_type": problem_type, "question": q, "options": [], "answer": ans}
    texts = [re.sub(r"^\s*[A-J][.)]\s*", "", str(o)).strip() for o in (options or [])]
    if len(texts) < 2 or len(texts) > len(LETTERS) or not all(texts):
        raise ValueError(f"multiple choice needs 2-{len(LETTERS)} non-empty options, got {len(texts)}")
    letter = ans.upper().strip("().")
    if letter not in LETTERS[:len(texts)]:
        raise ValueError(f"answer must be the letter of an option (A-{LETTERS[len(texts) - 1]}), got {ans!r}")
    return {"problem_type": problem_type, "question": q,
            "options": [f"{LETTERS[i]}. {t}" for i, t in enumerate(texts)], "answer": letter}


def answer(wh, tid: str, reviewer: str, action: str, problem_type: str | None = None, question=None,
           options=None, answer_=None, note: str | None = None) -> dict:
    """Store `reviewer`'s answer to task `tid` (replacing any earlier one). KeyError: no such task; ValueError:
    an invalid answer, naming what is wrong."""
    if not reviewer:
        raise ValueError("a re-annotation needs a reviewer")
    if action not in ACTIONS:
        raise ValueError(f"action must be one of {', '.join(ACTIONS)}, got {action!r}")
    t = task(wh, tid)
    body = check_rewrite(problem_type, question, options, answer_) if action == "rewrite" else \
        {"problem_type": None, "question": None, "options": None, "answer": None}
    row = {"item_id": t["item_id"], "task_id": tid, "action": action, **body,
           "note": (note or "").strip()[:MAX_TEXT] or None, "reviewer": reviewer, "annotated_at": _now()}
    wh.write("review_reannotations", [row], new_run_id("review-page"))
    return row
