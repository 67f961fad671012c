"""Generate + verify on the sample world's scene records (planned, not rendered: the stand-ins read scene records
at the instants of the frames a request carries, here evenly spaced over each video's listed duration).

Every planted candidate in `planted_items` must be dropped by the check meant for it, and the good candidates must
survive (a few multiple-choice ones may fall to lucky blind guesses, as with a real model).
"""
from __future__ import annotations

import json

import pytest

from jobs import generate, verify
from jobs.kb.bank import kp_id, slug
from jobs.media.model_frames import request_times
from jobs.sources.offline_model import OfflineModel
from jobs.sources.sample.captions import narration
from jobs.sources.sample.planted import FLAW_CHECK
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
                               "description": k["lecture"], "duration_s": s["duration_s"]})
        rows["screening"].append({"video_id": vid, "subject_id": sid, "kp_id": kid, "decision": "keep"})
        # the world's own narration (render.py writes the same lines), with the planted spoiler cue
        lines = narration(s["scene_type"], k, [f["answer"] for f in s["facts"] if f["flaw"] == "answerable_from_text"])
        rows["captions"] += [{"video_id": vid, "cue_index": i, "subject_id": sid, "start_s": 5.0 * i,
                              "end_s": 5.0 * i + 4.5, "text": t} for i, t in enumerate(lines)]
    with stage_run(wh, "fixture") as r:
        r.write("subjects", list(rows["subjects"].values()))
        r.write("knowledge_points", list(rows["kps"].values()))
        for t in ("videos", "screening", "captions"):
            r.write(t, rows[t])


def expected_items(scenes: dict[str, dict], n_frames: int = 8) -> int:
    """Items a generator writes at evenly spaced frames: two per fact it sees (one-frame facts only when planted)."""
    from jobs.sources.offline.perception import seen
    n = 0
    for vid, s in scenes.items():
        times = request_times({"video_id": vid, "duration_s": s["duration_s"]}, {}, n_frames)
        n += sum(2 for f in s["facts"] if seen(f, times)
                 and (f["frames_needed"] >= 2 or f["flaw"] == "answerable_from_one_frame"))
    return n


def test_checks_catch_every_planted_flaw_on_the_sample_world(settings, wh, world):
    scenes, planted = world
    seed(wh, scenes)
    model = OfflineModel(scenes)
    gen = generate.run(settings, offline_model=model)
    out = verify.run(settings, params={"early_exit": False}, offline_model=model)   # every check's row
    assert gen["candidates"] == out["candidates"] == expected_items(scenes) >= 150
    rows = wh.query("""SELECT k.check_name, k.passed, k.details, c.video_id, c.question, c.problem_type
                       FROM checks k JOIN candidates c USING (candidate_id)""").to_dicts()
    plants = wh.query("SELECT * FROM planted_items").to_dicts()
    assert len(plants) == len(planted) >= 7 and {p["kind"] for p in plants} == set(FLAW_CHECK)
    plant_of = {(p["video_id"], p["question"]): p for p in plants}
    for p in plants:
        hits = [r for r in rows if (r["video_id"], r["question"]) == (p["video_id"], p["question"])
                and r["check_name"] == p["expected_check"]]
        assert len(hits) == 2 and all(r["passed"] is False for r in hits), (p, hits)
    good = [r for r in rows if (r["video_id"], r["question"]) not in plant_of]
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
    assert not [q for q in verified if q in plant_of]
    assert len(verified) >= max(100, 0.9 * len({(r["video_id"], r["question"], r["problem_type"]) for r in good}))

    # early exit, cheapest first: the same verified set for fewer calls
    early = verify.run(settings, offline_model=model)
    assert set(wh.query("SELECT video_id, question FROM verified_qa").rows()) == set(verified)
    assert early["verified"] == out["verified"] and early["calls"] < out["calls"]
    assert early["calls"] / early["verified"] <= 5, (early["calls"], early["verified"])
