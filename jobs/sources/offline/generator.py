"""The generator stand-in (task generate_qa): items for the facts it sees, and the planted mistakes it makes.

It writes a multiple-choice and an open-ended item per scene fact seen through ITS frames (a generator cannot ask
about what it did not see), each with `evidence_s` (the first of its frame instants that shows the evidence) and
`think` = the fact's steps. Facts whose answer one frame shows (frames_needed 1: a state on screen) are skipped: the
factory wants questions that need the video over time. Unlike the checks, the generator MAY read the world's plant
records (`fact["flaw"]`, set from planted.FLAWS): it simulates a generator's mistakes, writing content that is bad in
itself, and the checks must catch it from that content alone:

| plant                     | what the generator writes                                                      |
|---------------------------|--------------------------------------------------------------------------------|
| answerable_from_text      | the plain item (the captions of that video give the answer away)               |
| answerable_from_one_frame | an item about a state shown on screen all video long (frames_needed 1)         |
| self_contradictory        | the chain restates a measured value with a different number                    |
| ungrounded_step           | the chain cites a value no frame or standard knowledge supports                |
| mislabelled_answer        | a wrong option lettered as correct / a wrong reference answer                  |
| ambiguous                 | the fact's loose wording (world content: several defensible readings)          |
"""
from __future__ import annotations

import random
import re

from .perception import evidence_time, norm, seen

LETTERS = "ABCDEFGHIJ"
UNGROUNDED_STEP = "A value printed on a card that never appears in the video confirms this result."
_NUM = re.compile(r"\d+(?:\.\d+)?")


def _h(*parts) -> int:
    import hashlib
    return int(hashlib.sha256("\x1f".join(str(p) for p in parts).encode()).hexdigest()[:16], 16)


def mc_options(video_id: str, fact: dict, must: list[str] | None = None) -> tuple[list[str], str]:
    """4-10 lettered options (answer + distractors, deterministic count and shuffle) and the correct letter;
    `must` texts (e.g. every reading of a vague question) are always among them."""
    must = [m for m in dict.fromkeys(must or []) if norm(m) != norm(fact["answer"])]
    distractors = [d for d in dict.fromkeys(fact.get("distractors", []))
                   if norm(d) != norm(fact["answer"]) and d not in must]
    n = min(4 + _h("n", video_id, fact.get("fact_id"), fact["question"]) % 7, len(distractors) + len(must) + 1)
    n = max(n, len(must) + 1)
    rng = random.Random(_h("shuffle", video_id, fact.get("fact_id"), fact["question"]))
    picked = must + rng.sample(distractors, n - 1 - len(must)) + [fact["answer"]]
    rng.shuffle(picked)
    letter = LETTERS[picked.index(fact["answer"])]
    return [f"{LETTERS[i]}. {t}" for i, t in enumerate(picked)], letter


def _restated(steps: list[str], kinds: list[str]) -> list[str]:
    """Self-contradictory chain: the first measured value (a video step with a number) stated again, differently."""
    for i, (text, basis) in enumerate(zip(steps, kinds)):
        m = _NUM.search(text) if basis == "video" else None
        if m:
            value = m.group(0)
            other = str(int(value) + 2) if "." not in value else \
                f"{float(value) * 1.25:.{len(value.split('.')[1])}f}"
            again = text[:m.start()] + other + text[m.end():]
            return steps[:i + 1] + [again] + steps[i + 1:]
    raise ValueError("self_contradictory: the fact has no measured value to restate")


def generate(video_id: str, scene: dict, times: list[float], skills: set[str], forms: list[str]) -> list[dict]:
    items = []
    for fact in scene.get("facts", []):
        plant = fact.get("flaw")
        if skills and fact["skill"] not in skills:
            continue
        one_frame = int(fact.get("frames_needed") or 2) < 2
        if (one_frame and plant != "answerable_from_one_frame") or not seen(fact, times):
            continue
        question, must = fact["question"], []
        steps = [s["text"] for s in fact.get("steps", [])]
        kinds = [s.get("basis", "") for s in fact.get("steps", [])]
        if plant == "ambiguous":
            question, must = fact["vague"]["question"], fact["vague"]["readings"]
        elif plant == "ungrounded_step":
            steps = steps[:-1] + [UNGROUNDED_STEP] + steps[-1:]
        elif plant == "self_contradictory":
            steps = _restated(steps, kinds)
        base = {"skill": fact["skill"], "question": question, "think": "\n".join(steps),
                "evidence_s": evidence_time(fact, times)}
        if "multiple choice" in forms:
            options, letter = mc_options(video_id, fact, must)
            if plant == "mislabelled_answer":
                letter = LETTERS[(LETTERS.index(letter) + 1) % len(options)]
            items.append({**base, "problem_type": "multiple choice", "options": options, "answer": letter})
        if "open-ended" in forms:
            answer = fact["distractors"][0] if plant == "mislabelled_answer" else fact["answer"]
            items.append({**base, "problem_type": "open-ended", "options": None, "answer": answer})
    return items
