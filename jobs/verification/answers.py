"""Does a reply mean the candidate's answer? Multiple choice by letter (or option text); open-ended strict on what
carries meaning (numbers, order, negation) and lenient on phrasing. Shared by the verify checks."""
from __future__ import annotations

import math
import re

LETTERS = "ABCDEFGHIJ"
_NUM = re.compile(r"[-+]?\d*\.?\d+(?:e[-+]?\d+)?", re.I)


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
