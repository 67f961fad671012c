"""Fact records of scene records (TABLES.md "Scene record") and distractor helpers. Part of the stand-in world."""
from __future__ import annotations

import numpy as np

BASIC = "basic_video_reasoning"
KEP = "knowledge_enhanced_perception"
KIR = "knowledge_intensive_reasoning"
N_DISTRACTORS = 9


def fact(fact_id: str, skill: str, question: str, answer: str, distractors: list[str],
         steps: list[tuple[str, str]], evidence: list[tuple[float, float]]) -> dict:
    ds = [str(d) for d in dict.fromkeys(distractors) if str(d) != answer]
    if len(ds) < N_DISTRACTORS:
        raise ValueError(f"fact {fact_id}: only {len(ds)} distractors")
    return {"fact_id": fact_id, "skill": skill, "question": question, "answer": answer,
            "distractors": ds, "steps": [{"text": s, "basis": b} for s, b in steps],
            "evidence": [[round(a, 2), round(b, 2)] for a, b in evidence], "flaw": None}


def int_distractors(answer: int, rng: np.random.Generator, lo: int = 0, n: int = 12, suffix: str = "") -> list[str]:
    """Nearby integers (the plausible mistakes of a miscount), formatted like the answer."""
    cands = [answer + d for d in range(-15, 16) if d and answer + d >= lo]
    cands.sort(key=lambda v: (abs(v - answer), v))
    out = cands[:n]
    rng.shuffle(out)
    return [f"{v}{suffix}" for v in out]


def num_distractors(answer: float, fmt: str, rng: np.random.Generator, n: int = 12) -> list[str]:
    """Values off by typical error factors (wrong formula, factor 2, pi, squaring), formatted with `fmt`."""
    factors = [0.5, 0.6, 0.7, 0.8, 0.9, 1.15, 1.3, 1.5, 1.75, 2.0, 2.5, 3.0, 0.4, 0.3, 1.1, 0.85, 1.25, 4.0]
    good = fmt.format(answer)
    out: list[str] = []
    for f in factors:
        s = fmt.format(answer * f)
        if s != good and s not in out and float(s.split()[0]) > 0:
            out.append(s)
    rng.shuffle(out)
    return out[:n]


def pick(pool: list[str], answer: str, rng: np.random.Generator, n: int = 11) -> list[str]:
    """Same-kind wrong answers from a fixed pool."""
    rest = [p for p in pool if p != answer]
    rng.shuffle(rest)
    return rest[:n]


UNGROUNDED_STEP = "A value printed on a card that never appears in the video confirms this result."


def apply_flaw(f: dict, flaw: str | None, vague: tuple[str, str] | None = None) -> dict:
    """Plant a flaw for the verify checks: a step with no basis, or a vague question with two defensible answers.

    answerable_from_text is planted in the captions (captions.py); here it only sets the flag.
    """
    if not flaw:
        return f
    f["flaw"] = flaw
    if flaw == "ungrounded_step":
        f["steps"].insert(len(f["steps"]) - 1, {"text": UNGROUNDED_STEP, "basis": "video"})
    elif flaw == "ambiguous":
        if vague is None:
            raise ValueError(f"fact {f['fact_id']}: no vague form to plant 'ambiguous'")
        f["question"], alt = vague
        f["distractors"] = [alt] + [d for d in f["distractors"] if d != alt]
    return f
