"""The offline model: a deterministic STAND-IN for the frontier (M)LLMs, built on the sample world's scene records.

It is NOT a model and its outputs say nothing about model quality. It exists so that the whole factory runs with
no network and so that every check can be shown to catch the failures planted in the sample world:

| task            | what the stand-in answers                                                                    |
|-----------------|----------------------------------------------------------------------------------------------|
| generate_qa     | for each scene fact: one multiple-choice item (4-10 options lettered A-J, one correct, a      |
|                 | deterministic shuffle) and one open-ended item; `think` = the fact's reasoning steps          |
| solve (video)   | `context["n_frames"] > 1`: the scene record's answer; facts flagged "ambiguous" give         |
|                 | disagreeing answers across `context["sample"]` indices                                        |
| solve (blind)   | `n_frames <= 1`: a hash of the question text, options and sample index (near chance on MC);   |
|                 | facts flagged "answerable_from_text" (their answer is in the captions) are answered right     |
| validate_cot    | one line of `think` = one step; grounded when the scene record holds it as a video or        |
|                 | knowledge step, except the step planted as ungrounded                                         |
| judge_relevance | relevant when the video's scene knowledge point is the requested one                         |
| expand_kb       | curated proposals from jobs/seeds/expand_kb.yaml for the subject, plus four deliberately      |
|                 | flawed ones (a duplicate of a bank point, a duplicate within the batch, an empty statement,   |
|                 | an existing lecture filed under the wrong course)                                            |
|                 | so that validation is exercised, like the planted items of the sample world                  |

Requests reach it through the model layer like any endpoint; it reads `request.context` (video_id, n_frames,
sample, question, options, ...) which real endpoints never see. Replies are JSON text of the task's schema.
"""
from __future__ import annotations

import hashlib
import json
import random
import re
from pathlib import Path
from typing import Any, Iterable

import yaml

from jobs.sources.base import ChatRequest

LETTERS = "ABCDEFGHIJ"
SEEDS_DIR = Path(__file__).resolve().parents[1] / "seeds"
_UNGROUNDED_BASES = ("none", "ungrounded", "hallucinated", "unsupported")


def _h(*parts: Any) -> int:
    return int(hashlib.sha256("\x1f".join(str(p) for p in parts).encode()).hexdigest()[:16], 16)


def norm(text: str) -> str:
    """Lower-case, punctuation-free, single-spaced text (how the stand-in compares strings)."""
    return " ".join(re.sub(r"[^0-9a-z]+", " ", str(text).lower()).split())


def option_text(option: str) -> str:
    """'B. 12 swaps' -> '12 swaps'."""
    m = re.match(r"^\s*([A-J])[.)]\s*(.*)$", option, re.S)
    return m.group(2).strip() if m else option.strip()


class OfflineModel:
    """Deterministic stand-in implementing `ChatModel` (see the module docstring). Never a measure of quality.

    `library`: the sample Library (anything with `by_id(video_id).scene`), a dict video_id -> scene record, or a
    list of scene records. `bank`: an optional knowledge-bank document (used only for context-free expand_kb).
    """

    name = "offline-standin-v1"

    def __init__(self, library: Any = None, bank: dict | None = None):
        self._library = library
        self._bank = bank
        self._reserve: dict | None = None

    # ------------------------------------------------------------------ plumbing
    def scene(self, video_id: str | None) -> dict | None:
        lib = self._library
        if not video_id or lib is None:
            return None
        if isinstance(lib, dict):
            return lib.get(video_id)
        if isinstance(lib, (list, tuple)):
            return next((s for s in lib if s.get("video_id") == video_id), None)
        try:
            item = lib.by_id(video_id)
        except (KeyError, LookupError):
            return None
        return getattr(item, "scene", None) if item is not None else None

    def complete(self, request: ChatRequest) -> str:
        handler = getattr(self, f"_task_{request.task}", None)
        if handler is None:
            raise ValueError(f"offline model: unknown task {request.task!r}")
        return json.dumps(handler(dict(request.context or {})), ensure_ascii=False)

    @staticmethod
    def _fact(scene: dict | None, question: str) -> dict | None:
        if not scene:
            return None
        q = norm(question)
        return next((f for f in scene.get("facts", []) if norm(f["question"]) == q), None)

    # ------------------------------------------------------------------ generate_qa
    def _task_generate_qa(self, ctx: dict) -> dict:
        scene = self.scene(ctx.get("video_id"))
        if scene is None:
            return {"items": []}
        skills = set(ctx.get("skills") or [])
        forms = ctx.get("problem_types") or ["multiple choice", "open-ended"]
        items = []
        for fact in scene.get("facts", []):
            if skills and fact["skill"] not in skills:
                continue
            think = "\n".join(s["text"] for s in fact.get("steps", []))
            if "multiple choice" in forms:
                options, letter = mc_options(scene["video_id"], fact)
                items.append({"skill": fact["skill"], "problem_type": "multiple choice", "question": fact["question"],
                              "options": options, "answer": letter, "think": think})
            if "open-ended" in forms:
                items.append({"skill": fact["skill"], "problem_type": "open-ended", "question": fact["question"],
                              "options": None, "answer": fact["answer"], "think": think})
        return {"items": items}

    # ------------------------------------------------------------------ solve
    def _task_solve(self, ctx: dict) -> dict:
        question = ctx.get("question", "")
        options = list(ctx.get("options") or [])
        sample = int(ctx.get("sample", 0) or 0)
        blind = int(ctx.get("n_frames", 0) or 0) <= 1
        fact = self._fact(self.scene(ctx.get("video_id")), question)
        if fact is None or (blind and fact.get("flaw") != "answerable_from_text"):
            return self._guess(question, options, sample, fact)
        if fact.get("flaw") == "ambiguous" and not blind and sample % 3 != 0:
            return self._disagree(fact, options, sample)
        steps = [s["text"] for s in fact.get("steps", [])]
        if options:
            letter = _letter_of(options, fact["answer"])
            return {"think": "\n".join(steps), "answer": letter or self._guess(question, options, sample)["answer"]}
        return {"think": "\n".join(steps), "answer": fact["answer"]}

    @staticmethod
    def _guess(question: str, options: list[str], sample: int, fact: dict | None = None) -> dict:
        """Text-only answer: a hash of what the text says (never of the video), so near chance on MC."""
        h = _h("blind", norm(question), "|".join(options), sample)
        if options:
            return {"think": "The text alone does not settle it; choosing the most plausible option.",
                    "answer": LETTERS[h % len(options)]}
        wrong = (fact or {}).get("distractors") or ["cannot be determined from the text"]
        return {"think": "The text alone does not settle it; giving a plausible value.",
                "answer": wrong[h % len(wrong)]}

    @staticmethod
    def _disagree(fact: dict, options: list[str], sample: int) -> dict:
        think = "The relevant moment is hard to make out; reading it another way."
        if options:
            right = _letter_of(options, fact["answer"])
            wrong = [LETTERS[i] for i in range(len(options)) if LETTERS[i] != right]
            return {"think": think, "answer": wrong[_h("amb", fact["question"], sample) % len(wrong)]}
        distractors = fact.get("distractors") or ["unclear"]
        return {"think": think, "answer": distractors[_h("amb", fact["question"], sample) % len(distractors)]}

    # ------------------------------------------------------------------ validate_cot
    def _task_validate_cot(self, ctx: dict) -> dict:
        scene = self.scene(ctx.get("video_id"))
        known: dict[str, str] = {}
        for fact in (scene or {}).get("facts", []):
            for step in fact.get("steps", []):
                known[norm(step["text"])] = "none" if _is_ungrounded(fact, step) else step.get("basis", "none")
        steps = []
        for line in split_steps(ctx.get("think", "")):
            basis = known.get(norm(line), "none")
            steps.append({"step": line, "grounded": basis in ("video", "knowledge"), "basis": basis})
        return {"steps": steps, "valid": bool(steps) and all(s["grounded"] for s in steps)}

    # ------------------------------------------------------------------ judge_relevance
    def _task_judge_relevance(self, ctx: dict) -> dict:
        scene = self.scene(ctx.get("video_id"))
        wanted = ctx.get("kp_name") or (ctx.get("kp") or {}).get("name") or ""
        if scene is None:
            return {"relevant": False, "score": 0.0, "reason": "no scene record for this video"}
        have = (scene.get("kp") or {}).get("name", "")
        if have and norm(have) == norm(wanted):
            return {"relevant": True, "score": 0.95, "reason": f"the video shows {have}"}
        return {"relevant": False, "score": 0.05, "reason": f"the video shows {have or 'something else'}, not {wanted}"}

    # ------------------------------------------------------------------ expand_keywords
    @staticmethod
    def _task_expand_keywords(ctx: dict) -> dict:
        """Templated stand-in: the point's name in search phrasings (no world knowledge, unlike a real generator)."""
        name = str(ctx.get("name") or "").strip()
        words = [f"{name} {suffix}" for suffix in ("explained", "demonstration", "worked example")] if name else []
        return {"keywords": words[:int(ctx.get("max_keywords") or 3)]}

    # ------------------------------------------------------------------ expand_kb
    def _task_expand_kb(self, ctx: dict) -> dict:
        subject = ctx.get("subject") or ctx.get("subject_id") or ""
        existing = ctx.get("existing") or _existing_from_bank(self._bank, subject)
        reserve = self._load_reserve().get(_slug(subject), [])
        limit = int(ctx.get("max_proposals") or 50)
        proposals = [dict(p) for p in reserve[:limit]]
        # planted flaws (see module docstring): they must be caught by kb_expand's validation
        first_kp = next(((c, l, k) for c, lectures in existing.items() for l, kps in lectures.items() for k in kps),
                        None)
        if first_kp:
            c, l, k = first_kp
            proposals.append({"course": c, "lecture": l, "name": k.upper() + ".", "statement": f"{k} (restated).",
                              "keywords": [k.lower()]})
            if len(reserve) > 1:         # an existing lecture filed under the wrong course, listed first
                other = next((x for x in existing if x != c), f"{c} II")
                proposals.insert(0, {**reserve[1], "course": other, "lecture": l})
        if proposals and reserve:
            p = dict(reserve[0])
            p["name"] = " " + p["name"].lower() + " "
            proposals.append(p)
            proposals.append({**reserve[-1], "name": reserve[-1]["name"] + " (overview)", "statement": " "})
        return {"proposals": proposals}

    def _load_reserve(self) -> dict:
        if self._reserve is None:
            path = SEEDS_DIR / "expand_kb.yaml"
            doc = yaml.safe_load(path.read_text()) if path.is_file() else {}
            self._reserve = {_slug(k): v for k, v in (doc.get("reserve") or {}).items()}
        return self._reserve


# ---------------------------------------------------------------------- helpers shared with tests and stages


def mc_options(video_id: str, fact: dict) -> tuple[list[str], str]:
    """4-10 lettered options (answer + distractors, deterministic count and shuffle) and the correct letter."""
    distractors = [d for d in dict.fromkeys(fact.get("distractors", [])) if norm(d) != norm(fact["answer"])]
    n = min(4 + _h("n", video_id, fact.get("fact_id"), fact["question"]) % 7, len(distractors) + 1)
    rng = random.Random(_h("shuffle", video_id, fact.get("fact_id"), fact["question"]))
    picked = rng.sample(distractors, n - 1) + [fact["answer"]]
    rng.shuffle(picked)
    letter = LETTERS[picked.index(fact["answer"])]
    return [f"{LETTERS[i]}. {t}" for i, t in enumerate(picked)], letter


def split_steps(think: str) -> list[str]:
    """One reasoning step per non-empty line ('Step 3:' / '3.' / '-' prefixes removed)."""
    out = []
    for line in (think or "").splitlines():
        line = re.sub(r"^\s*(?:step\s*\d+\s*[:.)]\s*|\d+[.)]\s+|[-*•]\s+)", "", line, flags=re.I).strip()
        if line:
            out.append(line)
    return out


def _letter_of(options: list[str], answer: str) -> str | None:
    for i, opt in enumerate(options):
        if norm(option_text(opt)) == norm(answer):
            return LETTERS[i]
    return None


def _planted_step_texts() -> set[str]:
    """The sample world's planted ungrounded step text(s) (jobs/sources/sample/facts.py)."""
    try:
        from jobs.sources.sample import facts
    except ImportError:
        return set()
    return {norm(t) for t in [getattr(facts, "UNGROUNDED_STEP", "")] if t}


def _is_ungrounded(fact: dict, step: dict) -> bool:
    """The planted ungrounded step: marked on the step itself, by its basis, or the sample world's planted text."""
    if step.get("grounded") is False or step.get("ungrounded") or step.get("planted"):
        return True
    if str(step.get("basis", "")).lower() in _UNGROUNDED_BASES:
        return True
    return fact.get("flaw") == "ungrounded_step" and norm(step.get("text", "")) in _planted_step_texts()


def _slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", str(name).lower()).strip("-")


def _existing_from_bank(bank: dict | None, subject: str) -> dict[str, dict[str, list[str]]]:
    """{course: {lecture: [kp names]}} for `subject` from a bank document (empty when unknown)."""
    for d in (bank or {}).get("disciplines", []):
        for s in d.get("subjects", []):
            if _slug(s.get("name", "")) == _slug(subject):
                return {c["name"]: {l["name"]: [k["name"] for k in l.get("knowledge_points", [])]
                                    for l in c.get("lectures", [])} for c in s.get("courses", [])}
    return {}


def facts_of(scenes: Iterable[dict]) -> list[tuple[dict, dict]]:
    """(scene, fact) pairs, for tests and reports."""
    return [(s, f) for s in scenes for f in s.get("facts", [])]
