"""Split: pure, grouped by video, stable under backfill, contaminated videos excluded."""
from __future__ import annotations

import pytest

from jobs import split


def test_assign_is_pure_and_near_ratio():
    ids = [f"vid{i:08d}" for i in range(20000)]
    a = [split.assign(v, 7) for v in ids]
    assert a == [split.assign(v, 7) for v in ids]
    share = a.count("sft") / len(a)
    assert abs(share - 0.64) < 0.015
    assert [split.assign(v, 8) for v in ids[:200]] != a[:200]            # the seed matters
    assert all(split.assign(v, 7, 0.0) == "rl" and split.assign(v, 7, 1.0) == "sft" for v in ids[:50])
    with pytest.raises(ValueError, match="ratio"):
        split.assign("x", 1, 1.5)


def _qa(cid: str, vid: str, subject: str) -> dict:
    return {"candidate_id": cid, "video_id": vid, "kp_id": "kp-1", "subject_id": subject, "skill": "basic_video_reasoning",
            "problem_type": "open-ended", "question": f"q {cid}", "options": None, "answer": "x", "think": "t"}


def test_stage_groups_by_video_excludes_contaminated_and_is_stable_under_backfill(settings, wh):
    phys = [_qa(f"p{v}-{j}", f"pv{v:03d}", "physics") for v in range(40) for j in range(3)]
    wh.write("verified_qa", phys, "test")
    wh.write("contamination", [{"video_id": "pv000", "subject_id": "physics", "benchmark": "mmvu",
                                "matched_item": "validation_0", "method": "youtube_id", "score": 1.0}], "test")
    out = split.run(settings, subjects=["physics"], params={"seed": 11})
    first = wh.query("SELECT video_id, split, examples, seed FROM splits ORDER BY video_id").to_dicts()
    assert len(first) == 39 and "pv000" not in {r["video_id"] for r in first}
    assert all(r["examples"] == 3 and r["seed"] == 11 for r in first)
    assert all(r["split"] == split.assign(r["video_id"], 11) for r in first)
    assert out["splits"]["sft"]["videos"] + out["splits"]["rl"]["videos"] == 39
    assert {"sft", "rl"} == {r["split"] for r in first}
    # every example of a video is on its video's side (one row per video, keyed by video_id)
    per_example = wh.query("SELECT q.candidate_id, s.split FROM verified_qa q JOIN splits s USING (video_id)")
    assert per_example.height == 39 * 3

    # backfill another subject: no physics video moves, its rows keep their run_id
    chem = [_qa(f"c{v}", f"cv{v:03d}", "chemistry") for v in range(25)]
    wh.write("verified_qa", chem, "test")
    before = wh.query("SELECT video_id, split, run_id FROM splits ORDER BY video_id").to_dicts()
    split.run(settings, subjects=["chemistry"], params={"seed": 11})
    after = wh.query("SELECT video_id, split, run_id FROM splits WHERE subject_id = 'physics' ORDER BY video_id").to_dicts()
    assert after == before
    assert wh.query("SELECT count(*) FROM splits WHERE subject_id = 'chemistry'").item() == 25
    # rerunning everything changes nothing
    again = split.run(settings, params={"seed": 11})
    assert again["rows"].get("splits", 0) == 0
    # a video contaminated later loses its split on the next run of its subject
    wh.write("contamination", [{"video_id": "cv003", "subject_id": "chemistry", "benchmark": "sample",
                                "matched_item": "b1", "method": "phash", "score": 0.9}], "test")
    split.run(settings, subjects=["chemistry"], params={"seed": 11})
    assert wh.query("SELECT count(*) FROM splits WHERE video_id = 'cv003'").item() == 0
