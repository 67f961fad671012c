"""The VideoKR reward: R = 0.1 * format + 0.9 * accuracy (pure functions; `videokr_reward` is a contract).

- format: 1.0 when the whole completion is `<think>...</think>`, whitespace, `<answer>...</answer>`; else 0.0.
- accuracy: the text inside `<answer>` tags of completion and solution (the solution may also be bare text).
  "multiple choice": exact match (after trimming whitespace). "open-ended": the mean F1 of ROUGE-1, ROUGE-2 and
  ROUGE-L (rouge-score, Porter stemmer), clipped to [0, 1]. Any other problem type scores 0 accuracy.
"""
from __future__ import annotations

import re
from functools import lru_cache

FORMAT_WEIGHT = 0.1
ACCURACY_WEIGHT = 0.9
MULTIPLE_CHOICE = "multiple choice"
OPEN_ENDED = "open-ended"

_NO_TAG = r"(?:(?!</?think>|</?answer>).)*"  # tag contents may not hold further think/answer tags
_FORMAT = re.compile(rf"<think>{_NO_TAG}</think>\s*<answer>{_NO_TAG}</answer>", re.DOTALL)
_ANSWER = re.compile(r"<answer>(.*?)</answer>", re.DOTALL)


def format_reward(completion: str) -> float:
    """1.0 when the whole completion is `<think>…</think>` then whitespace then `<answer>…</answer>`, else 0.0."""
    return 1.0 if _FORMAT.fullmatch(completion or "") else 0.0


def extract_answer(text: str) -> str | None:
    """The text between the first `<answer>` tags, stripped; None when there is no tagged answer."""
    m = _ANSWER.search(text or "")
    return m.group(1).strip() if m else None


@lru_cache(maxsize=1)
def _scorer():
    from rouge_score import rouge_scorer
    return rouge_scorer.RougeScorer(["rouge1", "rouge2", "rougeL"], use_stemmer=True)


def rouge_f1(prediction: str, reference: str) -> float:
    """Mean F1 of ROUGE-1, ROUGE-2 and ROUGE-L (stemmed), clipped to [0, 1]."""
    if not prediction.strip() or not reference.strip():
        return 0.0
    scores = _scorer().score(reference, prediction)
    mean = sum(s.fmeasure for s in scores.values()) / len(scores)
    return min(1.0, max(0.0, mean))


def accuracy_reward(completion: str, solution: str, problem_type: str) -> float:
    """Exact match of the answer for multiple choice, ROUGE for open-ended, 0 for any other type."""
    predicted = extract_answer(completion)
    if predicted is None:
        return 0.0
    truth = extract_answer(solution)
    truth = (solution or "").strip() if truth is None else truth
    if problem_type == MULTIPLE_CHOICE:
        return 1.0 if predicted == truth else 0.0
    if problem_type == OPEN_ENDED:
        return rouge_f1(predicted, truth)
    return 0.0


def videokr_reward(completion: str, solution: str, problem_type: str) -> float:
    """R = 0.9 * accuracy + 0.1 * format for one completion (plain text)."""
    return ACCURACY_WEIGHT * accuracy_reward(completion, solution, problem_type) + \
        FORMAT_WEIGHT * format_reward(completion)


def _text(completion) -> str:
    """A TRL completion is either a string or a list of chat messages; return its text."""
    if isinstance(completion, str):
        return completion
    return "".join(m.get("content") or "" for m in completion if isinstance(m, dict))


def trl_videokr_reward(completions, solution, problem_type, **_) -> list[float]:
    """`videokr_reward` in TRL's reward-function calling convention (batched, dataset columns as kwargs)."""
    return [videokr_reward(_text(c), s, t) for c, s, t in zip(completions, solution, problem_type)]
