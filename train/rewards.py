"""The VideoKR reward: R = 0.9 * accuracy + 0.1 * format (pure functions; `videokr_reward` is a contract).

By default it is the VideoKR release's reward (its verl reward module), input for input:
- format: 1.0 when the whole completion full-matches `<think>.*?</think>\\s*<answer>.*?</answer>` (DOTALL, lazy),
  else 0.0. Lazy dots still match across tags, so a completion with several (or nested) answer blocks passes.
- answer: the first `<answer>\\s*(.*?)\\s*</answer>` block (DOTALL), stripped; "" when there is none. Same for the
  solution (the release's ground truth is always `<answer>X</answer>`; a bare solution is taken whole, stripped).
- accuracy: "multiple choice": the stripped strings are equal (case-sensitive). "open-ended": the mean F1 of
  ROUGE-1, ROUGE-2 and ROUGE-L (rouge-score, Porter stemmer), clipped to [0, 1]. Any other problem type scores 0.

`strict_format=True` keeps this project's earlier, stricter format check: think and answer contents may not hold
further think/answer tags. Why: the release's check pays the format bonus to completions that hedge with several
answer blocks (`<answer>A</answer><answer>B</answer>`) or nest tags; only the first block is graded, so a policy can
learn to emit extra blocks for free. Use it for ablations; the default matches the paper's reward.
"""
from __future__ import annotations

import re
from functools import lru_cache

FORMAT_WEIGHT = 0.1
ACCURACY_WEIGHT = 0.9
MULTIPLE_CHOICE = "multiple choice"
OPEN_ENDED = "open-ended"

_RELEASE_FORMAT = re.compile(r"<think>.*?</think>\s*<answer>.*?</answer>", re.DOTALL)
_NO_TAG = r"(?:(?!</?think>|</?answer>).)*"  # strict: tag contents may not hold further think/answer tags
_STRICT_FORMAT = re.compile(rf"<think>{_NO_TAG}</think>\s*<answer>{_NO_TAG}</answer>", re.DOTALL)
_ANSWER = re.compile(r"<answer>\s*(.*?)\s*</answer>", re.DOTALL)


def format_reward(completion: str, strict: bool = False) -> float:
    """1.0 when the whole completion is `<think>…</think>`, whitespace, `<answer>…</answer>` (release rule, or the
    stricter no-nested-tags rule with `strict`), else 0.0."""
    pattern = _STRICT_FORMAT if strict else _RELEASE_FORMAT
    return 1.0 if pattern.fullmatch(completion or "") else 0.0


def extract_answer(text: str) -> str | None:
    """The first `<answer>` block's text, stripped; None when there is no tagged answer."""
    m = _ANSWER.search(text or "")
    return m.group(1).strip() if m else None


@lru_cache(maxsize=1)
def _scorer():
    from rouge_score import rouge_scorer
    return rouge_scorer.RougeScorer(["rouge1", "rouge2", "rougeL"], use_stemmer=True)


def rouge_f1(prediction: str, reference: str) -> float:
    """Mean F1 of ROUGE-1, ROUGE-2 and ROUGE-L (stemmed), clipped to [0, 1]."""
    if not prediction.strip() or not reference.strip():
        return 0.0                                     # rouge-score gives 0 here too; skip the tokenizer
    scores = _scorer().score(reference, prediction)
    mean = sum(s.fmeasure for s in scores.values()) / len(scores)
    return min(1.0, max(0.0, mean))


def accuracy_reward(completion: str, solution: str, problem_type: str) -> float:
    """Equality of the stripped answers for multiple choice, ROUGE for open-ended, 0 for any other type."""
    predicted = extract_answer(completion) or ""       # the release grades a missing answer as ""
    truth = extract_answer(solution)
    truth = (solution or "").strip() if truth is None else truth
    if problem_type == MULTIPLE_CHOICE:
        return 1.0 if predicted == truth else 0.0
    if problem_type == OPEN_ENDED:
        return rouge_f1(predicted, truth)
    return 0.0


def videokr_reward(completion: str, solution: str, problem_type: str, strict_format: bool = False) -> float:
    """R = 0.9 * accuracy + 0.1 * format for one completion (plain text)."""
    return ACCURACY_WEIGHT * accuracy_reward(completion, solution, problem_type) + \
        FORMAT_WEIGHT * format_reward(completion, strict_format)


def _text(completion) -> str:
    """A TRL completion is either a string or a list of chat messages; return its text."""
    if isinstance(completion, str):
        return completion
    return "".join(m.get("content") or "" for m in completion if isinstance(m, dict))


def trl_videokr_reward(completions, solution, problem_type, strict_format: bool = False, **_) -> list[float]:
    """`videokr_reward` in TRL's reward-function calling convention (batched, dataset columns as kwargs)."""
    return [videokr_reward(_text(c), s, t, strict_format) for c, s, t in zip(completions, solution, problem_type)]


def trl_reward_func(strict_format: bool = False):
    """The TRL reward function for a run: the release's reward, or the strict-format variant (TRL logs rewards by
    the function's __name__, so the variant gets its own name)."""
    if not strict_format:
        return trl_videokr_reward

    def trl_videokr_reward_strict(completions, solution, problem_type, **kw) -> list[float]:
        return trl_videokr_reward(completions, solution, problem_type, strict_format=True)
    return trl_videokr_reward_strict
