"""The embedded world's candidate pool: offline STAND-INS of known, different quality, so that the review's model
selection has a right answer with no network. Not models, and no measure of any real model's quality.

Each pool model wraps the offline stand-in (jobs/sources/offline_model.py, whose replies are right by construction)
and corrupts a known share of what it returns, deterministically:
- generate_qa: an item gets a wrong answer (another option letter; for open-ended, a distractor taken from the
  sibling multiple-choice item) or an unsupported step inserted into its chain of thought;
- solve: the answer is replaced by a wrong one.
Whether an item is corrupted is a hash of the item (video, question, form; for solve also the sample index) compared
with the model's rate. The draw is shared by the models of a step, so a worse model's corrupted items include a
better one's: the quality order holds on any sample, however small. Experts find the corruptions from the scene
facts alone (the answer is not the fact's, a step is not one of the scene's), never from this table.
"""
from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass

from jobs.sources.base import ChatRequest

LETTERS = "ABCDEFGHIJ"
UNSUPPORTED_STEPS = ("The presenter confirms the result with a second measurement made off camera.",
                     "A caption later states that the textbook value differs by a factor of two.",
                     "The lab notes shown before the video began already list this outcome.")


@dataclass(frozen=True)
class PoolSpec:
    name: str
    step: str            # the reviewed step it is a candidate for
    error_rate: float    # share of items (or answers) it corrupts
    price: float         # price per call in the embedded [review] pool (a: dear and good, c: cheap and poor)


POOL = {s.name: s for s in (
    PoolSpec("offline-gen-a", "qa_generation", 0.02, 0.0040),
    PoolSpec("offline-gen-b", "qa_generation", 0.12, 0.0012),
    PoolSpec("offline-gen-c", "qa_generation", 0.30, 0.0004),
    PoolSpec("offline-solve-a", "solving", 0.02, 0.0020),
    PoolSpec("offline-solve-b", "solving", 0.10, 0.0006),
    PoolSpec("offline-solve-c", "solving", 0.25, 0.0002),
)}


def _u(*parts) -> float:
    """A uniform draw in [0, 1) from the hash of `parts`."""
    h = hashlib.sha256("\x1f".join(str(p) for p in parts).encode()).hexdigest()[:15]
    return int(h, 16) / 16 ** 15


def _norm(text: str) -> str:
    return " ".join(re.sub(r"[^0-9a-z]+", " ", str(text).lower()).split())


class PoolModel:
    """A ChatModel: `base` (the offline stand-in) with the pool entry's corruptions applied to its replies."""

    def __init__(self, spec: PoolSpec, base):
        self.spec = spec
        self.base = base
        self.name = spec.name

    def complete(self, request: ChatRequest) -> str:
        text = self.base.complete(request)
        if request.task == "generate_qa":
            return json.dumps(self._generated(json.loads(text), request.context or {}), ensure_ascii=False)
        if request.task == "solve":
            return json.dumps(self._solved(json.loads(text), request.context or {}), ensure_ascii=False)
        return text

    def corrupts(self, *item) -> bool:
        return _u("pool", self.spec.step, *item) < self.spec.error_rate

    def _generated(self, reply: dict, ctx: dict) -> dict:
        items = reply.get("items") or []
        mc_opts = {_norm(i["question"]): i for i in items if i.get("problem_type") == "multiple choice"}
        for it in items:
            key = (ctx.get("video_id"), _norm(it.get("question", "")), it.get("problem_type"))
            if not self.corrupts(*key):
                continue
            kind = int(_u("kind", *key) * 2)
            if kind == 0 and it.get("problem_type") == "multiple choice" and it.get("options"):
                n = len(it["options"])
                i = LETTERS.index(it["answer"]) if it["answer"] in LETTERS[:n] else 0
                it["answer"] = LETTERS[(i + 1 + int(_u("letter", *key) * (n - 1))) % n]
                continue
            sib = mc_opts.get(_norm(it.get("question", "")))
            if kind == 0 and sib:
                wrong = [o[3:].strip() for o in sib["options"] if _norm(o[3:]) != _norm(it.get("answer", ""))]
                if wrong:
                    it["answer"] = wrong[int(_u("wrong", *key) * len(wrong))]
                    continue
            steps = (it.get("think") or "").split("\n")
            bad = UNSUPPORTED_STEPS[int(_u("step", *key) * len(UNSUPPORTED_STEPS))]
            steps.insert(max(0, len(steps) - 1), bad)
            it["think"] = "\n".join(steps)
        return reply

    def _solved(self, reply: dict, ctx: dict) -> dict:
        key = (ctx.get("video_id"), _norm(ctx.get("question", "")), ctx.get("sample", 0), int(ctx.get("n_frames") or 0))
        if not self.corrupts(*key):
            return reply
        options = list(ctx.get("options") or [])
        if options:
            n = len(options)
            i = LETTERS.index(reply["answer"]) if reply.get("answer") in LETTERS[:n] else 0
            reply["answer"] = LETTERS[(i + 1 + int(_u("letter", *key) * (n - 1))) % n]
        else:
            reply["answer"] = "it cannot be determined from the video"
        return reply


def wrap(name: str, base) -> PoolModel | None:
    """The pool model `name` over `base`, or None when `name` is not a pool model."""
    spec = POOL.get(name)
    return PoolModel(spec, base) if spec else None
