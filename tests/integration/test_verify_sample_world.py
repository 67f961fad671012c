"""Generate + verify on the sample world's scene records (planned, not rendered: the checks read scene records).

Every planted fact flaw in the sample manifest must be dropped by the check the manifest names, and the good
candidates must survive (a few multiple-choice ones may fall to lucky blind guesses, as with a real model).
"""
from __future__ import annotations

import json

import pytest

from jobs import generate, verify
from jobs.kb.bank import kp_id, slug
from jobs.sources.offline_model import OfflineModel
from warehouse import stage_run

sample = pytest.importorskip("jobs.sources.sample.render")


@pytest.fixture(scope="module")
def world():
    from jobs.sources.sample.planted import with_flaws
    from jobs.sources.sample.spec import kp_specs
    specs, manifest = with_flaws(kp_specs(20250101))
    scenes = {s.video_id: sample.plan_scene(s) for s in specs}
    return scenes, [m for m in manifest if m["expected_filter"].startswith("verify:")]


def seed(wh, scenes: dict[str, dict]) -> None:
    rows = {"videos": [], "screening": [], "kps": {}, "subjects": {}, "captions": []}
    for vid, s in scenes.items():
        k = s["kp"]
        sid, kid = slug(k["subject"]), kp_id(k["subject"], k["course"], k["lecture"], k["name"])
        rows["subjects"][sid] = {"subject_id": sid, "discipline_id": slug(k["discipline"]), "name": k["subject"]}
        rows["kps"][kid] = {"kp_id": kid, "subject_id": sid, "name": k["name"], "statement": k["name"] + "."}
        rows["videos"].append({"video_id": vid, "subject_id": sid, "kp_id": kid, "title": k["name"],
                               "description": k["lecture"]})
        rows["screening"].append({"video_id": vid, "subject_id": sid, "kp_id": kid, "decision": "keep"})
        rows["captions"].append({"video_id": vid, "cue_index": 0, "subject_id": sid, "start_s": 0.0, "end_s": 5.0,
                                 "text": f"Welcome to {k['lecture']}."})
    with stage_run(wh, "fixture") as r:
        r.write("subjects", list(rows["subjects"].values()))
        r.write("knowledge_points", list(rows["kps"].values()))
        for t in ("videos", "screening", "captions"):
            r.write(t, rows[t])


def test_checks_catch_every_planted_flaw_on_the_sample_world(settings, wh, world):
    scenes, planted = world
    seed(wh, scenes)
    model = OfflineModel(scenes)
    gen = generate.run(settings, offline_model=model)
    out = verify.run(settings, params={"early_exit": False}, offline_model=model)   # every check's row
    assert gen["candidates"] == out["candidates"] == 2 * sum(len(s["facts"]) for s in scenes.values())
    rows = wh.query("""SELECT k.check_name, k.passed, k.details, c.video_id, c.question, c.problem_type
                       FROM checks k JOIN candidates c USING (candidate_id)""").to_dicts()
    fact_of = {(vid, f["question"]): f for vid, s in scenes.items() for f in s["facts"]}
    assert len(planted) >= 6
    for m in planted:
        check = m["expected_filter"].split(":")[1]
        fact = next(f for f in scenes[m["video_id"]]["facts"] if f["fact_id"] == m["fact_id"])
        hits = [r for r in rows if r["video_id"] == m["video_id"] and r["question"] == fact["question"]
                and r["check_name"] == check]
        assert len(hits) == 2 and all(r["passed"] is False for r in hits), (m, hits)
    good = [r for r in rows if fact_of[(r["video_id"], r["question"])]["flaw"] is None]
    for name in ("self_consistency", "cot_validation"):
        assert all(r["passed"] for r in good if r["check_name"] == name), name
    vd = [r for r in good if r["check_name"] == "video_dependency"]
    assert all(r["passed"] for r in vd if r["problem_type"] == "open-ended")
    mc = [r for r in vd if r["problem_type"] == "multiple choice"]
    assert sum(r["passed"] for r in mc) / len(mc) >= 0.85
    # blind answers are near chance on multiple choice (n tries each)
    blind_right = sum(json.loads(r["details"])["blind_correct"] for r in mc)
    assert blind_right / (verify.DEFAULTS["n"] * len(mc)) < 0.3
    verified = wh.query("SELECT video_id, question FROM verified_qa").rows()
    assert not [q for q in verified if fact_of[q]["flaw"]]
    assert len(verified) >= 0.9 * len({(r["video_id"], r["question"], r["problem_type"]) for r in good})

    # early exit, cheapest first: the same verified set for fewer calls
    early = verify.run(settings, offline_model=model)
    assert set(wh.query("SELECT video_id, question FROM verified_qa").rows()) == set(verified)
    assert early["verified"] == out["verified"] and early["calls"] < out["calls"]
    assert early["calls"] / early["verified"] <= 5, (early["calls"], early["verified"])
