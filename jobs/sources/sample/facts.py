"""Fact records of scene records (TABLES.md "Scene record") and distractor helpers. Part of the stand-in world."""
from __future__ import annotations

import numpy as np

BASIC = "basic_video_reasoning"
KEP = "knowledge_enhanced_perception"
KIR = "knowledge_intensive_reasoning"
N_DISTRACTORS = 9


def fact(fact_id: str, skill: str, question: str, answer: str, distractors: list[str],
         steps: list[tuple[str, str]], evidence: list[tuple[float, float]], frames_needed: int = 2) -> dict:
    """A fact of a scene: what is visibly true, where (`evidence` intervals, seconds) and how many frames inside
    them a viewer needs to see it (`frames_needed`: 2 for a change over time, 1 for a state shown on screen)."""
    ds = [str(d) for d in dict.fromkeys(distractors) if str(d) != answer]
    if len(ds) < N_DISTRACTORS:
        raise ValueError(f"fact {fact_id}: only {len(ds)} distractors")
    return {"fact_id": fact_id, "skill": skill, "question": question, "answer": answer,
            "distractors": ds, "steps": [{"text": s, "basis": b} for s, b in steps],
            "evidence": [[round(a, 2), round(b, 2)] for a, b in evidence], "frames_needed": int(frames_needed),
            "flaw": None}


def vague(f: dict, question: str, readings: list[str]) -> dict:
    """World content: a loose wording of `f`'s question that admits several defensible readings (the precise
    answer first). The generator asks it only when planted ('ambiguous'); a solver reading it picks one reading."""
    rs = list(dict.fromkeys([f["answer"], *[str(r) for r in readings]]))
    if len(rs) < 3:
        raise ValueError(f"fact {f['fact_id']}: a vague form needs 3 distinct readings, got {rs}")
    f["vague"] = {"question": question, "readings": rs}
    f["distractors"] = rs[1:] + [d for d in f["distractors"] if d not in rs]
    return f


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


def apply_flaw(f: dict, flaw: str | None) -> dict:
    """Record the plant for this fact (planted.FLAWS): which mistake the generator stand-in makes when it writes
    the fact's items. The world's truth (question, answer, steps, evidence) stays clean; only the generator and the
    ground-truth table `planted_items` read `flaw`, never a check."""
    if flaw and flaw == "ambiguous" and "vague" not in f:
        raise ValueError(f"fact {f['fact_id']}: no vague form to plant 'ambiguous'")
    f["flaw"] = flaw or None
    return f
