"""The offline model: a deterministic STAND-IN for the frontier (M)LLMs, built on the sample world's scene records.

It is NOT a model and its outputs say nothing about model quality. It exists so that the whole factory runs with
no network, and so that every check can be shown to catch the bad items planted in the sample world because of
their content. The checking roles answer ONLY from what a request carries (jobs/sources/offline/perception.py):
- its text: the question and options (context), the page text quoted in the user message (title, description,
  captions), the chain to judge;
- its frames: the scene facts of `video_id` seen at the request's `frame_times` (the instants of the frames the model
  sees, attached or not): a fact is seen when at least `frames_needed` instants (2 for a change over time, 1 for a
  state on screen) fall inside its `evidence` intervals. Looking the scene record up is the stand-in's "vision".
They never read a plant record (`flaw`): `tests/integration/test_check_catch_rates.py` strips every `flaw` key from
the checker's world and shows the same catches.

| task            | what the stand-in answers                                                                    |
|-----------------|----------------------------------------------------------------------------------------------|
| generate_qa     | jobs/sources/offline/generator.py: items for the facts seen through its frames, with         |
|                 | `evidence_s`; it MAY read plant records, to write the planted mistakes (it simulates a       |
|                 | generator's errors; the checks must catch them from content)                                  |
| solve           | the fact asked about (matched by question text) when it is seen through the frames or its     |
|                 | answer is in the page text; a loose wording with several readings (`vague`): reading          |
|                 | `sample % len(readings)`, so samples disagree; otherwise a blind guess (hash of the text and |
|                 | sample: near chance on multiple choice, a distractor open-ended)                              |
| validate_cot    | one line of `think` = one step: grounded as "video" when it is a video step of a fact seen    |
|                 | through the frames, as "knowledge" when it is standard knowledge of the world (knowledge      |
|                 | steps of every fact, knowledge-bank statements); otherwise, or when it restates an earlier    |
|                 | step with other numbers (a contradiction), basis "none"; valid = every step grounded          |
| judge_relevance | relevant when the video's scene knowledge point is the requested one                         |
| expand_kb       | curated proposals from jobs/seeds/expand_kb.yaml for the subject, plus four deliberately      |
|                 | flawed ones (a duplicate of a bank point, a duplicate within the batch, an empty statement,   |
|                 | an existing lecture filed under the wrong course)                                            |
|                 | so that validation is exercised, like the planted items of the sample world                  |

Requests reach it through the model layer like any endpoint; it reads `request.context` (video_id, frame_times,
sample, question, options, think, ...) which real endpoints never see. Replies are JSON text of the task's schema.
"""
from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Any, Iterable

import yaml

from jobs.sources.base import ChatRequest
from jobs.sources.offline import generator
from jobs.sources.offline.generator import LETTERS, mc_options  # noqa: F401  (re-exported for stages and tests)
from jobs.sources.offline.perception import all_scenes, in_text, norm, page_text, seen, world_knowledge

SEEDS_DIR = Path(__file__).resolve().parents[1] / "seeds"
_NUM = re.compile(r"\d+(?:\.\d+)?")


def _h(*parts: Any) -> int:
    return int(hashlib.sha256("\x1f".join(str(p) for p in parts).encode()).hexdigest()[:16], 16)


def option_text(option: str) -> str:
    """'B. 12 swaps' -> '12 swaps'."""
    m = re.match(r"^\s*([A-J])[.)]\s*(.*)$", option, re.S)
    return m.group(2).strip() if m else option.strip()


class OfflineModel:
    """Deterministic stand-in implementing `ChatModel` (see the module docstring). Never a measure of quality.

    `library`: the sample Library (anything with `by_id(video_id).scene` and `items`), a dict video_id -> scene
    record, or a list of scene records. `bank`: an optional knowledge-bank document (its statements count as standard
    knowledge; also used for context-free expand_kb).
    """

    name = "offline-standin-v1"

    def __init__(self, library: Any = None, bank: dict | None = None):
        self._library = library
        self._bank = bank
        self._reserve: dict | None = None
        self._knowledge: set[str] | None = None

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
        ctx = dict(request.context or {})
        ctx["_page"] = page_text(request.messages)
        return json.dumps(handler(ctx), ensure_ascii=False)

    def knowledge(self) -> set[str]:
        if self._knowledge is None:
            self._knowledge = world_knowledge(all_scenes(self._library), self._bank)
        return self._knowledge

    @staticmethod
    def _asked(scene: dict | None, question: str) -> tuple[dict | None, list[str] | None]:
        """The fact a question asks about (by its text), and the readings when it is a fact's loose wording."""
        q = norm(question)
        for f in (scene or {}).get("facts", []):
            if norm(f["question"]) == q:
                return f, None
            if f.get("vague") and norm(f["vague"]["question"]) == q:
                return f, list(f["vague"]["readings"])
        return None, None

    # ------------------------------------------------------------------ generate_qa
    def _task_generate_qa(self, ctx: dict) -> dict:
        scene = self.scene(ctx.get("video_id"))
        if scene is None:
            return {"items": []}
        forms = ctx.get("problem_types") or ["multiple choice", "open-ended"]
        return {"items": generator.generate(scene["video_id"], scene, list(ctx.get("frame_times") or []),
                                            set(ctx.get("skills") or []), forms)}

    # ------------------------------------------------------------------ solve
    def _task_solve(self, ctx: dict) -> dict:
        question = ctx.get("question", "")
        options = list(ctx.get("options") or [])
        sample = int(ctx.get("sample", 0) or 0)
        fact, readings = self._asked(self.scene(ctx.get("video_id")), question)
        if fact is None:
            return self._guess(question, options, sample)
        by_frames = seen(fact, ctx.get("frame_times") or [])
        if readings and by_frames:
            reading = readings[sample % len(readings)]
            return self._say(["The wording admits several readings; taking it as " + reading + "."], reading,
                             options, question, sample)
        if by_frames or (not readings and in_text(fact["answer"], ctx["_page"])):
            return self._say([s["text"] for s in fact.get("steps", [])], fact["answer"], options, question, sample,
                             fact)
        return self._guess(question, options, sample, fact)

    def _say(self, steps: list[str], answer: str, options: list[str], question: str, sample: int,
             fact: dict | None = None) -> dict:
        if not options:
            return {"think": "\n".join(steps), "answer": answer}
        letter = _letter_of(options, answer)
        if letter is None:
            return self._guess(question, options, sample, fact)
        return {"think": "\n".join(steps), "answer": letter}

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

    # ------------------------------------------------------------------ validate_cot
    def _task_validate_cot(self, ctx: dict) -> dict:
        scene = self.scene(ctx.get("video_id"))
        times = ctx.get("frame_times") or []
        shown = {norm(st["text"]) for f in (scene or {}).get("facts", []) if seen(f, times)
                 for st in f.get("steps", []) if st.get("basis") == "video"}
        knowledge = self.knowledge()
        steps, stated = [], {}
        for line in split_steps(ctx.get("think", "")):
            n = norm(line)
            basis = "video" if n in shown else "knowledge" if n in knowledge else "none"
            template, numbers = _NUM.sub("#", line), _NUM.findall(line)
            if numbers and stated.get(template, numbers) != numbers:
                basis = "none"                         # restates an earlier step with other values
            stated.setdefault(template, numbers)
            steps.append({"step": line, "grounded": basis != "none", "basis": basis})
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
