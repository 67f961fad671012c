"""The offline stand-in model: deterministic, schema-valid replies, decided only by what a request carries (its text
and the scene facts seen at its frames' instants), never by plant records."""
from __future__ import annotations

import copy
import json
import re

import pytest

from jobs.prompts.messages import page_data_blocks, question_block
from jobs.sources.base import (ChatRequest, CoTVerdict, GeneratedQA, KBExpansion, RelevanceVerdict, SolverAnswer)
from jobs.sources.offline_model import LETTERS, OfflineModel, mc_options, norm, option_text

SKILLS = ("basic_video_reasoning", "knowledge_enhanced_perception", "knowledge_intensive_reasoning")
FRAMES = [round(3.75 + 7.5 * i, 3) for i in range(8)]          # 8 evenly spaced instants of a 60 s video
PLANTS = ("answerable_from_text", "ambiguous", "ungrounded_step", "self_contradictory", "mislabelled_answer",
          "answerable_from_one_frame")


def make_fact(i: int, skill: str, flaw: str | None = None) -> dict:
    answer = f"{10 + i} swaps"
    steps = [{"text": f"The animation of run {i} flashes a swap {10 + i} times.", "basis": "video"},
             {"text": "Each flash marks one exchange of adjacent bars.", "basis": "knowledge"}]
    f = {"fact_id": f"f{i}", "skill": skill, "question": f"How many swaps happen in run {i}?", "answer": answer,
         "distractors": [f"{10 + i + d} swaps" for d in (-5, -4, -3, -2, -1, 1, 2, 3, 4, 5)],
         "steps": steps, "evidence": [[2.0, 58.0]], "frames_needed": 1 if flaw == "answerable_from_one_frame" else 2,
         "flaw": flaw}
    if flaw == "ambiguous":
        f["vague"] = {"question": f"How many swaps are there in run {i}?",
                      "readings": [answer, f"{12 + i} swaps", f"{20 + i} swaps"]}
    return f


def make_scene(video_id: str, n_good: int = 30, flaws=PLANTS, kp_name: str = "Bubble sort") -> dict:
    facts = [make_fact(i, SKILLS[i % 3]) for i in range(n_good)]
    facts += [make_fact(100 + j, SKILLS[j % 3], f) for j, f in enumerate(flaws)]
    return {"video_id": video_id, "scene_type": "sorting", "duration_s": 60.0, "fps": 25.0, "width": 640,
            "height": 360, "params": {}, "events": [{"t": 1.0, "what": "bars appear"}], "facts": facts,
            "kp": {"discipline": "Engineering", "subject": "Computer Science", "course": "Algorithms",
                   "lecture": "Sorting Algorithms", "name": kp_name}, "unsafe_frames": False}


def req(task, schema, text: str = "q", **context) -> ChatRequest:
    return ChatRequest(role="x", task=task, messages=[{"role": "user", "content": text}], schema=schema,
                       context=context)


@pytest.fixture
def model():
    return OfflineModel({"vid00000001": make_scene("vid00000001")})


def generate(model, vid="vid00000001", times=FRAMES):
    raw = model.complete(req("generate_qa", GeneratedQA, video_id=vid, n_frames=len(times), frame_times=times))
    return GeneratedQA.model_validate_json(raw).items


def test_generate_qa_is_schema_valid_deterministic_and_well_formed(model):
    items = generate(model)
    assert items == generate(OfflineModel({"vid00000001": make_scene("vid00000001")}))
    assert {i.skill for i in items} == set(SKILLS)
    mc = [i for i in items if i.problem_type == "multiple choice"]
    oe = [i for i in items if i.problem_type == "open-ended"]
    assert len(mc) == len(oe) == 36
    sizes = set()
    for it in mc:
        sizes.add(len(it.options))
        assert 4 <= len(it.options) <= 10
        assert [o[:3] for o in it.options] == [f"{LETTERS[k]}. " for k in range(len(it.options))]
        assert it.answer in LETTERS[:len(it.options)] and len(it.answer) == 1
        texts = [option_text(o) for o in it.options]
        assert len(set(texts)) == len(texts)
        assert it.think.strip() and it.evidence_s == FRAMES[0]
    assert len(sizes) >= 4, "option counts should vary over 4..10"
    positions = {it.answer for it in mc}
    assert len(positions) >= 4, "the correct letter should be shuffled"
    assert all(o.options is None and o.answer.endswith("swaps") for o in oe)


def test_generator_asks_only_about_what_its_frames_show():
    scene = make_scene("v", n_good=3, flaws=())
    scene["facts"][0]["evidence"] = [[10.0, 12.0]]                      # one frame (11.25) inside: not enough
    scene["facts"][1]["evidence"] = [[10.0, 20.0]]                      # two frames inside
    scene["facts"][2].update(evidence=[[2.0, 58.0]], frames_needed=1)  # a state on screen: skipped when clean
    m = OfflineModel({"v": scene})
    assert {i.question for i in generate(m, "v")} == {scene["facts"][1]["question"]}
    assert generate(m, "v", times=[]) == [], "no frames, no questions"
    scene["facts"][2]["flaw"] = "answerable_from_one_frame"
    assert {i.question for i in generate(m, "v")} == {scene["facts"][k]["question"] for k in (1, 2)}


def test_unknown_video_and_task():
    m = OfflineModel({})
    assert GeneratedQA.model_validate_json(m.complete(req("generate_qa", GeneratedQA, video_id="nope"))).items == []
    with pytest.raises(ValueError, match="unknown task"):
        m.complete(req("translate", GeneratedQA))


def solve(model, item, times=FRAMES, sample=0, page: str = "", vid="vid00000001"):
    text = (page + "\n\n" if page else "") + question_block(item.question, item.options)
    raw = model.complete(req("solve", SolverAnswer, text, video_id=vid, n_frames=len(times), sample=sample,
                             question=item.question, options=item.options or [], problem_type=item.problem_type,
                             frame_times=list(times)))
    return SolverAnswer.model_validate_json(raw).answer


def test_solver_right_with_video_near_chance_without(model):
    clean = {f["question"] for f in make_scene("vid00000001")["facts"] if not f["flaw"]}
    mc = [i for i in generate(model) if i.problem_type == "multiple choice" and i.question in clean]
    assert len(mc) == 30
    with_video = [solve(model, it) == it.answer for it in mc]
    blind = [solve(model, it, [t], s) == it.answer for it in mc for t in (FRAMES[0], FRAMES[4]) for s in range(2)]
    chance = sum(1 / len(it.options) for it in mc) / len(mc)
    assert all(with_video)
    rate = sum(blind) / len(blind)
    assert abs(rate - chance) < 0.12 and rate < 0.35, (rate, chance)


def test_solver_reads_the_page_text_and_one_frame_states(model):
    items = {(i.question, i.problem_type): i for i in generate(model)}
    f = make_fact(100, SKILLS[0], "answerable_from_text")
    spoiler = page_data_blocks("Sorting", "", f"[12.0s] Spoiler: the answer is {f['answer']}.")
    quiet = page_data_blocks("Sorting", "", "[12.0s] Watch the bars.")
    for form in ("multiple choice", "open-ended"):
        it = items[(f["question"], form)]
        assert all(solve(model, it, [FRAMES[k]], s, spoiler) == it.answer for k in (0, 4) for s in range(3))
        assert sum(solve(model, it, [FRAMES[k]], s, quiet) == it.answer for k in (0, 4) for s in range(3)) <= 2
    scene = make_scene("v", n_good=1, flaws=())
    scene["facts"][0].update(evidence=[[2.0, 58.0]], frames_needed=1, flaw="answerable_from_one_frame")
    m = OfflineModel({"v": scene})
    for it in generate(m, "v"):
        assert all(solve(m, it, [t], s, vid="v") == it.answer for t in FRAMES for s in range(2))
        assert solve(m, it, [1.0], vid="v") != it.answer or it.problem_type == "multiple choice"


def test_vague_question_samples_disagree_and_mislabelled_items_do_not_agree(model):
    items = {(i.question, i.problem_type): i for i in generate(model)}
    amb, bad = make_fact(101, SKILLS[1], "ambiguous"), make_fact(104, SKILLS[1], "mislabelled_answer")
    for form in ("multiple choice", "open-ended"):
        it = items[(amb["vague"]["question"], form)]
        answers = [solve(model, it, sample=s) for s in range(3)]
        assert len(set(answers)) == 3 and answers.count(it.answer) == 1, answers
        wrong = items[(bad["question"], form)]
        truth = [solve(model, wrong, sample=s) for s in range(3)]
        assert len(set(truth)) == 1 and wrong.answer not in truth
        good = items[(make_fact(0, SKILLS[0])["question"], form)]
        assert {solve(model, good, sample=s) for s in range(6)} == {good.answer}


def cot(model, think, times=FRAMES, vid="vid00000001"):
    raw = model.complete(req("validate_cot", CoTVerdict, video_id=vid, n_frames=len(times), think=think,
                             frame_times=list(times)))
    return CoTVerdict.model_validate_json(raw)


def test_validate_cot_judges_each_step_from_frames_and_knowledge(model):
    items = {i.question: i for i in generate(model) if i.problem_type == "open-ended"}
    scene = make_scene("vid00000001")
    plant = {f["flaw"]: f for f in scene["facts"] if f["flaw"]}
    v = cot(model, items[plant["ungrounded_step"]["question"]].think)
    assert not v.valid and [s.grounded for s in v.steps] == [True, False, True]
    v = cot(model, items[plant["self_contradictory"]["question"]].think)
    assert not v.valid and [s.grounded for s in v.steps] == [True, False, True], v
    assert all(cot(model, items[(f.get("vague") or f)["question"]].think).valid for f in scene["facts"]
               if f["flaw"] not in ("ungrounded_step", "self_contradictory"))
    first = items[scene["facts"][0]["question"]].think
    invented = cot(model, first + "\nThe bars were painted by hand.")
    assert not invented.valid and invented.steps[-1].basis == "none"
    unseen = cot(model, first, times=[FRAMES[0]])                    # one frame cannot show a change over time
    assert [s.basis for s in unseen.steps] == ["none", "knowledge"]


def test_checks_never_read_plant_records(model):
    """The checking tasks answer the same with every `flaw` key removed from the world."""
    stripped = copy.deepcopy(make_scene("vid00000001"))
    for f in stripped["facts"]:
        del f["flaw"]
    blind = OfflineModel({"vid00000001": stripped})
    spoiler = page_data_blocks("Sorting", "", "[3.0s] the answer is 100 swaps")
    for it in generate(model):
        for times, page in ((FRAMES, ""), ([FRAMES[2]], spoiler)):
            assert [solve(model, it, times, s, page) for s in range(3)] == \
                [solve(blind, it, times, s, page) for s in range(3)]
        assert cot(model, it.think) == cot(blind, it.think)


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
    """On the sample world's scene records (planned, not rendered), at 8 evenly spaced frames: right with the video
    on every clean multiple-choice item, near chance with one frame and no page text."""
    render = pytest.importorskip("jobs.sources.sample.render")
    from jobs.sources.sample.planted import with_flaws
    from jobs.sources.sample.spec import kp_specs
    specs, _ = with_flaws(kp_specs(20250101))
    scenes = {s.video_id: render.plan_scene(s) for s in specs}
    model = OfflineModel(scenes)
    right = blind = total = 0
    chance = 0.0
    for vid, scene in scenes.items():
        d = scene["duration_s"]
        times = [round((i + 0.5) * d / 8, 3) for i in range(8)]
        flaws = {f["question"]: f["flaw"] for f in scene["facts"]}
        for it in GeneratedQA.model_validate_json(model.complete(req(
                "generate_qa", GeneratedQA, video_id=vid, n_frames=8, frame_times=times))).items:
            if it.problem_type != "multiple choice" or flaws.get(it.question):
                continue
            ask = dict(video_id=vid, question=it.question, options=it.options, problem_type=it.problem_type)
            right += SolverAnswer.model_validate_json(model.complete(req(
                "solve", SolverAnswer, n_frames=8, frame_times=times, **ask))).answer == it.answer
            for s in range(3):
                blind += SolverAnswer.model_validate_json(model.complete(req(
                    "solve", SolverAnswer, n_frames=1, sample=s, frame_times=[times[(s * 3) % 8]], **ask))).answer \
                    == it.answer
            chance += 1 / len(it.options)
            total += 1
    assert total >= 70
    assert right == total
    assert abs(blind / (3 * total) - chance / total) < 0.08, (blind / (3 * total), chance / total)
