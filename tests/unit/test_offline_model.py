"""The offline stand-in model: deterministic, schema-valid replies, and the behaviour the verify checks rely on."""
from __future__ import annotations

import json
import re

import pytest

from jobs.sources.base import (ChatRequest, CoTVerdict, GeneratedQA, KBExpansion, RelevanceVerdict, SolverAnswer)
from jobs.sources.offline_model import LETTERS, OfflineModel, mc_options, norm, option_text

SKILLS = ("basic_video_reasoning", "knowledge_enhanced_perception", "knowledge_intensive_reasoning")


def make_fact(i: int, skill: str, flaw: str | None = None) -> dict:
    answer = f"{10 + i} swaps"
    steps = [{"text": f"The animation of run {i} flashes a swap {10 + i} times.", "basis": "video"},
             {"text": "Each flash marks one exchange of adjacent bars.", "basis": "knowledge"}]
    if flaw == "ungrounded_step":
        steps.insert(1, {"text": "A value printed on a card that never appears in the video confirms this result.",
                         "basis": "video"})
    return {"fact_id": f"f{i}", "skill": skill, "question": f"How many swaps happen in run {i}?", "answer": answer,
            "distractors": [f"{10 + i + d} swaps" for d in (-5, -4, -3, -2, -1, 1, 2, 3, 4, 5)],
            "steps": steps, "evidence": [[1.0, 5.0]], "flaw": flaw}


def make_scene(video_id: str, n_good: int = 30, flaws=("answerable_from_text", "ambiguous", "ungrounded_step"),
               kp_name: str = "Bubble sort") -> dict:
    facts = [make_fact(i, SKILLS[i % 3]) for i in range(n_good)]
    facts += [make_fact(100 + j, SKILLS[j % 3], f) for j, f in enumerate(flaws)]
    return {"video_id": video_id, "scene_type": "sorting", "duration_s": 60.0, "fps": 25.0, "width": 640,
            "height": 360, "params": {}, "events": [{"t": 1.0, "what": "bars appear"}], "facts": facts,
            "kp": {"discipline": "Engineering", "subject": "Computer Science", "course": "Algorithms",
                   "lecture": "Sorting Algorithms", "name": kp_name}, "unsafe_frames": False}


def req(task, schema, **context) -> ChatRequest:
    return ChatRequest(role="x", task=task, messages=[{"role": "user", "content": "q"}], schema=schema, context=context)


@pytest.fixture
def model():
    return OfflineModel({"vid00000001": make_scene("vid00000001")})


def generate(model, vid="vid00000001"):
    raw = model.complete(req("generate_qa", GeneratedQA, video_id=vid, n_frames=8))
    return GeneratedQA.model_validate_json(raw).items


def test_generate_qa_is_schema_valid_deterministic_and_well_formed(model):
    items = generate(model)
    assert items == generate(OfflineModel({"vid00000001": make_scene("vid00000001")}))
    assert {i.skill for i in items} == set(SKILLS)
    mc = [i for i in items if i.problem_type == "multiple choice"]
    oe = [i for i in items if i.problem_type == "open-ended"]
    assert len(mc) == len(oe) == 33
    sizes = set()
    for it in mc:
        sizes.add(len(it.options))
        assert 4 <= len(it.options) <= 10
        assert [o[:3] for o in it.options] == [f"{LETTERS[k]}. " for k in range(len(it.options))]
        assert it.answer in LETTERS[:len(it.options)] and len(it.answer) == 1
        texts = [option_text(o) for o in it.options]
        assert len(set(texts)) == len(texts)
        assert it.think.strip()
    assert len(sizes) >= 4, "option counts should vary over 4..10"
    positions = {it.answer for it in mc}
    assert len(positions) >= 4, "the correct letter should be shuffled"
    assert all(o.options is None and o.answer.endswith("swaps") for o in oe)


def test_unknown_video_and_task():
    m = OfflineModel({})
    assert GeneratedQA.model_validate_json(m.complete(req("generate_qa", GeneratedQA, video_id="nope"))).items == []
    with pytest.raises(ValueError, match="unknown task"):
        m.complete(req("translate", GeneratedQA))


def solve(model, item, n_frames, sample=0):
    raw = model.complete(req("solve", SolverAnswer, video_id="vid00000001", n_frames=n_frames, sample=sample,
                             question=item.question, options=item.options or [], problem_type=item.problem_type))
    return SolverAnswer.model_validate_json(raw).answer


def test_solver_right_with_video_near_chance_without(model):
    scene = make_scene("vid00000001")
    flaw = {f["question"]: f["flaw"] for f in scene["facts"]}
    mc = [i for i in generate(model) if i.problem_type == "multiple choice" and flaw[i.question] is None]
    with_video = [solve(model, it, 8) == it.answer for it in mc]
    blind = [solve(model, it, n, s) == it.answer for it in mc for n in (0, 1) for s in range(4)]
    chance = sum(1 / len(it.options) for it in mc) / len(mc)
    assert all(with_video)
    rate = sum(blind) / len(blind)
    assert abs(rate - chance) < 0.12 and rate < 0.35, (rate, chance)


def test_flawed_facts_behave_as_planted(model):
    items = {(i.question, i.problem_type): i for i in generate(model)}
    scene = make_scene("vid00000001")
    by_flaw = {f["flaw"]: f for f in scene["facts"] if f["flaw"]}
    for form in ("multiple choice", "open-ended"):
        txt = items[(by_flaw["answerable_from_text"]["question"], form)]
        assert all(solve(model, txt, 1, s) == txt.answer for s in range(5)), "answerable from text alone"
        amb = items[(by_flaw["ambiguous"]["question"], form)]
        answers = [solve(model, amb, 8, s) for s in range(6)]
        assert len(set(answers)) >= 2 and answers.count(amb.answer) <= 2, answers
        good = items[(scene["facts"][0]["question"], form)]
        assert {solve(model, good, 8, s) for s in range(6)} == {good.answer}


def cot(model, think):
    raw = model.complete(req("validate_cot", CoTVerdict, video_id="vid00000001", n_frames=8, think=think))
    return CoTVerdict.model_validate_json(raw)


def test_validate_cot_flags_only_the_planted_step(model):
    items = {i.question: i for i in generate(model) if i.problem_type == "open-ended"}
    scene = make_scene("vid00000001")
    bad = next(f for f in scene["facts"] if f["flaw"] == "ungrounded_step")
    v = cot(model, items[bad["question"]].think)
    assert not v.valid and [s.grounded for s in v.steps] == [True, False, True]
    assert all(cot(model, items[f["question"]].think).valid for f in scene["facts"] if f["flaw"] != "ungrounded_step")
    invented = cot(model, items[scene["facts"][0]["question"]].think + "\nThe bars were painted by hand.")
    assert not invented.valid and invented.steps[-1].basis == "none"


def test_judge_relevance_matches_scene_kp(model):
    yes = RelevanceVerdict.model_validate_json(model.complete(
        req("judge_relevance", RelevanceVerdict, video_id="vid00000001", kp_name="bubble sort")))
    no = RelevanceVerdict.model_validate_json(model.complete(
        req("judge_relevance", RelevanceVerdict, video_id="vid00000001", kp={"name": "Ohm's law"})))
    assert yes.relevant and yes.score > 0.5 and not no.relevant and no.score < 0.5


def test_expand_kb_reserve_and_planted_flaws():
    existing = {"Classical Mechanics": {"Oscillations": ["Period of a simple pendulum"]}}
    out = KBExpansion.model_validate_json(OfflineModel().complete(
        req("expand_kb", KBExpansion, subject="Physics", existing=existing)))
    names = [norm(p.name) for p in out.proposals]
    assert "moment of inertia" in names
    assert names.count("moment of inertia") == 2                       # planted duplicate within the batch
    assert "period of a simple pendulum" in names                      # planted duplicate of the bank
    assert any(not p.statement.strip() for p in out.proposals)         # planted schema problem
    none = KBExpansion.model_validate_json(OfflineModel().complete(req("expand_kb", KBExpansion, subject="Nope")))
    assert none.proposals == []


def test_mc_options_use_the_fact_only():
    f = make_fact(3, SKILLS[0])
    opts, letter = mc_options("v", f)
    assert option_text(opts[LETTERS.index(letter)]) == f["answer"]
    assert all(re.match(r"^[A-J]\. ", o) for o in opts)
    assert json.dumps(mc_options("v", f)) == json.dumps(mc_options("v", f))


def test_sample_world_scenes_if_available():
    """On the sample world's scene records (planned, not rendered): right with the video on every non-flawed MC
    fact, near chance without it."""
    render = pytest.importorskip("jobs.sources.sample.render")
    from jobs.sources.sample.planted import with_flaws
    from jobs.sources.sample.spec import kp_specs
    specs, _ = with_flaws(kp_specs(20250101))
    scenes = {s.video_id: render.plan_scene(s) for s in specs}
    model = OfflineModel(scenes)
    right = blind = total = 0
    chance = 0.0
    for vid, scene in scenes.items():
        flaws = {f["question"]: f["flaw"] for f in scene["facts"]}
        for it in GeneratedQA.model_validate_json(model.complete(req(
                "generate_qa", GeneratedQA, video_id=vid, n_frames=8))).items:
            if it.problem_type != "multiple choice" or flaws[it.question]:
                continue
            ask = dict(video_id=vid, question=it.question, options=it.options, problem_type=it.problem_type)
            right += SolverAnswer.model_validate_json(model.complete(req("solve", SolverAnswer, n_frames=8,
                                                                         **ask))).answer == it.answer
            for s in range(3):
                blind += SolverAnswer.model_validate_json(model.complete(req(
                    "solve", SolverAnswer, n_frames=1, sample=s, **ask))).answer == it.answer
            chance += 1 / len(it.options)
            total += 1
    assert total >= 100
    assert right == total
    assert abs(blind / (3 * total) - chance / total) < 0.08, (blind / (3 * total), chance / total)
