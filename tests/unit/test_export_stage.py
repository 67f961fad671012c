"""Export stage on a temporary warehouse: contaminated videos excluded, manifest, snapshot pinning, byte-identical files."""
from __future__ import annotations

import hashlib
import json

from jobs import export, split


def _qa(cid: str, vid: str, ptype: str = "multiple choice") -> dict:
    return {"candidate_id": cid, "video_id": vid, "kp_id": "kp-1", "subject_id": "physics", "skill": "basic_video_reasoning",
            "problem_type": ptype, "question": f"Question {cid}?",
            "options": ["A. one", "B. two"] if ptype == "multiple choice" else None,
            "answer": "A" if ptype == "multiple choice" else "two", "think": f"because {cid}"}


def _setup(wh, settings, home):
    vids = [f"v{i:02d}" for i in range(12)]
    wh.write("verified_qa", [_qa(f"qa-{v}-{j}", v, "open-ended" if j else "multiple choice")
                             for v in vids for j in range(2)], "test")
    (home / "media").mkdir(exist_ok=True)
    for v in vids:
        (home / "media" / f"{v}.mp4").write_bytes(v.encode())   # placed in the folders, never decoded here
    wh.write("downloads", [{"video_id": v, "subject_id": "physics", "path": str(home / "media" / f"{v}.mp4"),
                            "status": "ok"} for v in vids], "test")
    wh.write("contamination", [{"video_id": "v03", "subject_id": "physics", "benchmark": "mmvu",
                                "matched_item": "validation_9", "method": "youtube_id", "score": 1.0}], "test")
    split.run(settings, params={"seed": 3})
    return vids


def test_export_all_formats_manifest_and_exclusion(settings, wh, home, tmp_path):
    _setup(wh, settings, home)
    out = export.run(settings, params={"out": str(tmp_path / "exports")})
    assert set(out["exports"]) == {"videokr", "llamafactory", "verl", "trl"}
    assert out["examples"]["sft"] + out["examples"]["rl"] == 22          # 11 clean videos x 2
    assert out["excluded"]["contaminated"] == 2
    folder = tmp_path / "exports" / f"videokr-snap{out['snapshot_id']}-seed3-all"
    m = json.loads((folder / "manifest.json").read_text())
    assert m["snapshot_id"] == out["snapshot_id"] and m["split_seed"] == 3 and m["format"] == "videokr"
    for name, meta in m["files"].items():
        assert hashlib.sha256((folder / name).read_bytes()).hexdigest() == meta["sha256"]
    assert m["files"]["sft.jsonl"]["rows"] == m["examples"]["sft"]
    text = (folder / "sft.jsonl").read_text() + (folder / "rl.jsonl").read_text()
    assert "v03" not in text and "qa-v04-0" in text
    assert sorted(p.name for p in (folder / "videos").iterdir()) == [f"v{i:02d}.mp4" for i in range(12) if i != 3]
    assert export.verify_folder(folder) == []
    recorded = wh.query("SELECT format, snapshot_id, seed FROM exports ORDER BY format").to_dicts()
    assert [r["format"] for r in recorded] == ["llamafactory", "trl", "verl", "videokr"]
    assert {r["seed"] for r in recorded} == {3}


def test_same_snapshot_byte_identical_later_writes_ignored(settings, wh, home, tmp_path):
    _setup(wh, settings, home)
    snap = wh.snapshot()
    first = export.export(settings, "verl", tmp_path / "a", snapshot=snap)
    first_tl = export.export(settings, "trl", tmp_path / "a", snapshot=snap)
    # the warehouse moves on: a new verified example and a newly contaminated video
    wh.write("verified_qa", [_qa("qa-new", "v05")], "test")
    wh.write("contamination", [{"video_id": "v06", "subject_id": "physics", "benchmark": "sample",
                                "matched_item": "b", "method": "phash", "score": 0.8}], "test")
    again = export.export(settings, "verl", tmp_path / "b", snapshot=snap)
    again_tl = export.export(settings, "trl", tmp_path / "b", snapshot=snap)
    for a, b in ((first, again), (first_tl, again_tl)):
        fa, fb = a["out_dir"], b["out_dir"]
        for name in list(a["files"]) + ["manifest.json"]:
            assert open(f"{fa}/{name}", "rb").read() == open(f"{fb}/{name}", "rb").read(), name
    latest = export.export(settings, "trl", tmp_path / "c")
    assert latest["snapshot_id"] > snap
    body = open(f"{latest['out_dir']}/sft.jsonl").read() + open(f"{latest['out_dir']}/rl.jsonl").read()
    assert "qa-new" in body and '"v06' not in body and "/v06.mp4" not in body


def test_absolute_mode_and_a_video_that_disappears(settings, wh, home, tmp_path):
    _setup(wh, settings, home)
    out = export.run(settings, params={"out": str(tmp_path / "x"), "formats": ["videokr"], "videos": "absolute"})
    folder = tmp_path / "x" / f"videokr-snap{out['snapshot_id']}-seed3-all-abs"
    assert out["exports"]["videokr"] == str(folder) and not (folder / "videos").exists()
    paths = {json.loads(x)["path"] for x in (folder / "sft.jsonl").read_text().splitlines()}
    assert paths and all(p.startswith(str(home / "media")) for p in paths)

    linked = export.run(settings, params={"out": str(tmp_path / "y"), "formats": ["trl"]})
    videos = tmp_path / "y" / f"trl-snap{linked['snapshot_id']}-seed3-all" / "videos"
    assert (videos / "v05.mp4").is_symlink() and (videos / "v05.mp4").read_bytes() == b"v05"
    (home / "media" / "v05.mp4").unlink()                      # gone from the media store: left out, named
    again = export.run(settings, params={"out": str(tmp_path / "y"), "formats": ["trl"]})
    assert again["exports"] == linked["exports"] and again["excluded"]["missing_video"] == 2
    assert not (videos / "v05.mp4").exists() and not (videos / "v05.mp4").is_symlink()   # stale link removed
    assert len(list(videos.iterdir())) == 10
    q = wh.query("SELECT item, reason, detail FROM quarantine WHERE stage = 'export'").to_dicts()
    assert [(r["item"], r["reason"]) for r in q] == [(str(home / "media" / "v05.mp4"), "missing_video_file")]
    assert "2 example(s) not exported" in q[0]["detail"]
