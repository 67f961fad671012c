"""Verify stage: each check removes the planted failures it should, and good candidates survive."""
from __future__ import annotations

import json

import pytest

from jobs import generate, verify
from jobs.verification import answers
from jobs.sources.offline_model import OfflineModel
from jobs.sources.sample.planted import FLAW_CHECK
from tests.integration.test_generate import Recording, seed_world, world_scenes

CHECKS = {"self_consistency", "video_dependency", "cot_validation"}


@pytest.fixture
def world(settings, wh):
    scenes = world_scenes()
    seed_world(wh, scenes)
    generate.run(settings, offline_model=OfflineModel(scenes))
    # the generator asks a planted ambiguous fact in its loose wording
    flaw = {(vid, (f.get("vague") or f)["question"]): f["flaw"] for vid, s in scenes.items() for f in s["facts"]}
    return scenes, flaw


def checks(wh) -> dict[tuple[str, str], dict]:
    rows = wh.query("SELECT k.*, c.video_id, c.question, c.problem_type FROM checks k "
                    "JOIN candidates c USING (candidate_id)").to_dicts()
    return {(r["candidate_id"], r["check_name"]): r for r in rows}


def test_each_check_removes_its_planted_failures(settings, wh, world):
    scenes, flaw = world
    out = verify.run(settings, params={"early_exit": False}, offline_model=OfflineModel(scenes))   # every row
    rows = checks(wh)
    cands = wh.query("SELECT * FROM candidates").to_dicts()
    assert len(rows) == 3 * len(cands) == 3 * out["candidates"]
    planted = FLAW_CHECK
    good_vd = []
    for c in cands:
        f = flaw[(c["video_id"], c["question"])]
        got = {name: rows[(c["candidate_id"], name)]["passed"] for name in CHECKS}
        if f:
            assert got[planted[f]] is False, (f, c["problem_type"], got)
        else:
            assert got["self_consistency"] and got["cot_validation"], (c["question"], got)
            good_vd.append(got["video_dependency"])
            if c["problem_type"] == "open-ended":
                assert got["video_dependency"], "a blind guess never matches an open-ended reference"
    assert sum(good_vd) / len(good_vd) >= 0.85, "lucky blind guesses drop only a few good candidates"
    verified = wh.query("SELECT * FROM verified_qa").to_dicts()
    assert len(verified) == out["verified"] and len(verified) >= 0.85 * len(good_vd)
    assert not [v for v in verified if flaw[(v["video_id"], v["question"])]], "no planted failure is verified"
    cols = set(verified[0]) - {"run_id", "think_words", "think_steps"}   # the last two: computed at write
    by_id = {c["candidate_id"]: c for c in cands}
    assert all({k: v[k] for k in cols} == {k: by_id[v["candidate_id"]][k] for k in cols} for v in verified)
    # the view explains every rejection
    view = wh.query("SELECT check_name, outcome, count(*) AS n FROM v_rejection_reasons GROUP BY ALL").to_dicts()
    assert {r["check_name"] for r in view} == CHECKS and {r["outcome"] for r in view} == {"failed"}
    rejected = wh.query("SELECT count(DISTINCT candidate_id) AS n FROM v_rejection_reasons").item()
    assert rejected == len(cands) - len(verified)
    sc = next(r for r in rows.values() if r["check_name"] == "self_consistency")
    assert json.loads(sc["details"])["k"] == 3 and sc["model"] == f"{OfflineModel.name}-solver" and sc["call_id"]


def test_thresholds_are_configurable(settings, wh, world):
    scenes, flaw = world
    settings.extra["verify"] = {"k": 3, "n": 1, "m": 1}
    verify.run(settings, params={"threshold": 0.3, "early_exit": False}, offline_model=OfflineModel(scenes))
    rows = checks(wh)
    amb = [r for r in rows.values() if r["check_name"] == "self_consistency"
           and flaw[(r["video_id"], r["question"])] == "ambiguous"]
    # with k=3 the solvers take each of the 3 readings of a loose wording once: 1/3 >= 0.3 passes; 0.6 would not
    assert amb and all(r["passed"] and json.loads(r["details"])["k"] == 3 for r in amb)
    vd = [json.loads(r["details"]) for r in rows.values() if r["check_name"] == "video_dependency"]
    assert {d["n"] for d in vd} == {1}
    with pytest.raises(ValueError, match="m <= n"):
        verify.run(settings, params={"m": 4, "n": 3}, offline_model=OfflineModel(scenes))


def test_rerun_changes_nothing_and_early_exit_saves_calls(settings, wh, world):
    scenes, _ = world
    full = verify.run(settings, subjects=["physics"], params={"early_exit": False}, offline_model=OfflineModel(scenes))
    n_full = wh.query("SELECT count(*) FROM llm_calls WHERE task != 'generate_qa'").item()
    assert n_full == full["calls"] == full["candidates"] * (3 + 2 + 1), "k + n + 1 distinct calls per candidate"
    verified_full = wh.query("SELECT candidate_id FROM verified_qa ORDER BY 1").to_series().to_list()
    early = verify.run(settings, subjects=["physics"], offline_model=OfflineModel(scenes))
    snap = wh.query("SELECT * FROM checks ORDER BY ALL").to_dicts()
    assert wh.query("SELECT candidate_id FROM verified_qa ORDER BY 1").to_series().to_list() == verified_full
    assert early["verified"] == full["verified"] and 0 < early["calls"] < n_full
    again = verify.run(settings, subjects=["physics"], offline_model=OfflineModel(scenes))
    assert again["rows"].get("checks", 0) == 0 and again["rows"].get("verified_qa", 0) == 0 and again["calls"] == 0
    assert wh.query("SELECT * FROM checks ORDER BY ALL").to_dicts() == snap
    assert {r["subject_id"] for r in snap} == {"physics"}
    # a candidate stops at its first failing check, in the cost order
    by_cand: dict[str, list] = {}
    for r in snap:
        by_cand.setdefault(r["candidate_id"], []).append(r)
    for rows in by_cand.values():
        names = [r["check_name"] for r in rows]
        order = [c for c in verify.CHECKS if c in names]
        assert order == list(verify.CHECKS[:len(order)])
        failed = [r for r in rows if r["passed"] is not True]
        assert len(failed) <= 1 and (not failed or failed[0]["check_name"] == order[-1])


class BrokenValidator(OfflineModel):
    def complete(self, request):
        if request.task == "validate_cot":
            raise ValueError("validator down")
        return super().complete(request)


def test_failed_check_calls_are_errors_not_passes(settings, wh, world):
    scenes, _ = world
    out = verify.run(settings, params={"early_exit": False}, offline_model=BrokenValidator(scenes))
    assert out["verified"] == 0 and out["checks"]["cot_validation"]["error"] == out["candidates"]
    view = wh.query("SELECT DISTINCT check_name, outcome FROM v_rejection_reasons WHERE outcome = 'error'").to_dicts()
    assert view == [{"check_name": "cot_validation", "outcome": "error"}]
    q = wh.query("SELECT item, reason, detail FROM quarantine WHERE stage = 'verify'").to_dicts()
    assert len(q) == out["candidates"] and {r["reason"] for r in q} == {"cot_validation_failed"}
    assert all("validator down" in r["detail"] for r in q)


def test_answer_matching():
    assert answers.mc_letter("B", ["A. x", "B. y", "C. z", "D. w"]) == "B"
    assert answers.mc_letter("(c)", ["A. x", "B. y", "C. z", "D. w"]) == "C"
    assert answers.mc_letter("Answer: D. w", ["A. x", "B. y", "C. z", "D. w"]) == "D"
    assert answers.mc_letter("y", ["A. x", "B. y", "C. z", "D. w"]) == "B"
    assert answers.mc_letter("F", ["A. x", "B. y", "C. z", "D. w"]) is None
    assert answers.open_match("12 swaps", "12 Swaps.") and not answers.open_match("12 swaps", "13 swaps")
    assert answers.open_match("2.0 s", "2 s") and not answers.open_match("1.41 s", "1.57 s")
    assert answers.open_match("normal sinus rhythm", "a normal sinus rhythm")
    assert not answers.open_match("metaphase", "anaphase")
    assert not answers.open_match("6 and 7", "6 and 9") and not answers.open_match("A, B, C", "A, C, B")
    assert not answers.open_match("The demand curve shifts left", "The demand curve shifts right")
    assert not answers.open_match("normal sinus rhythm", "not a normal sinus rhythm")


def tiny_mp4(path, seconds: float = 2.0, fps: int = 10):
    import av
    import numpy as np
    with av.open(str(path), "w") as c:
        s = c.add_stream("libx264", rate=fps)
        s.width, s.height, s.pix_fmt = 160, 96, "yuv420p"
        for i in range(int(seconds * fps)):
            img = np.full((96, 160, 3), (i * 12) % 255, np.uint8)
            for pkt in s.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                c.mux(pkt)
        for pkt in s.encode():
            c.mux(pkt)
    return path


def test_frames_are_sent_as_images_and_the_blind_solver_gets_one(settings, wh, tmp_path):
    from warehouse import stage_run
    scenes = world_scenes()
    for f in scenes["phys0000001"]["facts"]:
        f["evidence"] = [[0.0, 2.0]]             # the file is 2 s long: its 4 frames show every fact
    seed_world(wh, scenes)
    mp4 = tiny_mp4(tmp_path / "v.mp4")
    with stage_run(wh, "fixture") as r:
        r.write("downloads", [{"video_id": "phys0000001", "subject_id": "physics", "path": str(mp4), "status": "ok"}])
    model = Recording(scenes)
    out = generate.run(settings, subjects=["physics"], params={"attach_frames": True, "n_frames": 4},
                       offline_model=model)
    q = wh.query("SELECT item, reason FROM quarantine WHERE stage = 'generate'").to_dicts()
    assert q == [{"item": "phys0000002", "reason": "frames_unreadable"}], "the missing file is quarantined"
    assert out["videos_generated"] == 1

    def images(req):
        return sum(p["type"] == "image_url" for p in req.messages[1]["content"])
    assert [images(r) for r in model.requests] == [4]
    model.requests.clear()
    verify.run(settings, subjects=["physics"], params={"attach_frames": True, "n_frames": 4, "k": 2, "n": 2, "m": 1},
               offline_model=model)
    by_role = {}
    for r in model.requests:
        by_role.setdefault(r.role, set()).add(images(r))
    assert by_role == {"solver": {4}, "blind_solver": {1}, "cot_validator": {4}}
    blind = next(r for r in model.requests if r.role == "blind_solver")
    text = "\n".join(p["text"] for p in blind.messages[1]["content"] if p["type"] == "text")
    assert "Video captions (UNTRUSTED DATA" in text and blind.context["n_frames"] == 1
