"""`videokr export` from the command line: scope, pinned snapshot, output folder, video modes, refused subjects.

A real warehouse (the `wh` fixture); the CLI runs as users run it, in a child process on the same VIDEOKR_HOME.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from jobs import split

SEED = 3
VIDEOS = {"p1": "physics", "p2": "physics", "p3": "physics", "b1": "biology", "gone": "physics"}


def _videokr(home: Path, *args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, VIDEOKR_HOME=str(home), OMP_NUM_THREADS="1")
    return subprocess.run([sys.executable, "-m", "videokr.cli", *args], env=env, capture_output=True, text=True,
                          timeout=300)


def _world(settings, wh, home: Path) -> None:
    wh.write("subjects", [{"subject_id": s, "discipline_id": "science", "name": s.title(), "position": i}
                          for i, s in enumerate(["physics", "biology"])], "test")
    qa, downloads = [], []
    for vid, subject in VIDEOS.items():
        path = home / "media" / f"{vid}.mp4"
        if vid != "gone":                        # its download row says ok, but the file is not there
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(f"not decoded here: {vid}".encode())
        downloads.append({"video_id": vid, "subject_id": subject, "path": str(path), "status": "ok"})
        qa += [{"candidate_id": f"qa-{vid}-{j}", "video_id": vid, "subject_id": subject, "kp_id": "kp",
                "skill": "basic_video_reasoning", "problem_type": "multiple choice", "question": f"Q {vid} {j}?",
                "options": ["A. one", "B. two"], "answer": "AB"[j], "think": f"because {j}"} for j in range(2)]
    wh.write("verified_qa", qa, "test")
    wh.write("downloads", downloads, "test")
    split.run(settings, params={"seed": SEED})


def _rows(folder: Path) -> int:
    return sum(m["rows"] or 0 for m in json.loads((folder / "manifest.json").read_text())["files"].values())


def test_scoped_pinned_copy_then_linked_export_and_refused_subject(settings, wh, home, tmp_path):
    _world(settings, wh, home)
    snap = wh.data_snapshot(["verified_qa", "splits", "downloads", "contamination", "model_frames"])
    wh.write("verified_qa", [{"candidate_id": "qa-b1-late", "video_id": "b1", "subject_id": "biology", "kp_id": "kp",
                              "skill": "s", "problem_type": "open-ended", "question": "Late?", "options": None,
                              "answer": "yes", "think": "t"}], "test")          # after the pinned snapshot

    out = tmp_path / "scoped"
    r = _videokr(home, "export", "--subjects", "biology", "--snapshot", str(snap), "--out", str(out),
                 "--videos", "copy")
    assert r.returncode == 0, r.stderr[-3000:]
    seed = json.loads((next(out.iterdir()) / "manifest.json").read_text())["split_seed"]
    names = sorted(p.name for p in out.iterdir())
    assert names == sorted(f"{f}-snap{snap}-seed{seed}-biology" for f in ("videokr", "llamafactory", "verl", "trl"))
    for name in names:                                   # biology's two pinned examples in every format
        folder = out / name
        assert _rows(folder) == 2, name
        video = folder / "videos" / "b1.mp4"
        assert video.is_file() and not video.is_symlink() and video.read_bytes() == b"not decoded here: b1"
        assert sorted(p.name for p in (folder / "videos").iterdir()) == ["b1.mp4"]
        assert "qa-b1-late" not in "".join(p.read_text(errors="replace") for p in folder.glob("*.json*"))
        assert str(home) not in "".join(p.read_text() for p in folder.glob("*.json*"))   # nothing absolute
    assert f"{out / names[0]}" in r.stdout and "for biology: " in r.stdout
    assert len({(out / n / "videos" / "b1.mp4").stat().st_ino for n in names}) == 1   # copied once, then hard links

    linked = tmp_path / "linked"
    r = _videokr(home, "export", "--format", "videokr", "verl", "--out", str(linked))
    assert r.returncode == 0, r.stderr[-3000:]
    folder = next(linked.glob("videokr-*-all"))
    rows = [json.loads(x) for f in ("sft.jsonl", "rl.jsonl") for x in (folder / f).read_text().splitlines()]
    assert {x["path"] for x in rows} == {f"videos/{v}.mp4" for v in ("p1", "p2", "p3", "b1")}   # "gone" left out
    assert all((folder / x["path"]).is_symlink() and (folder / x["path"]).resolve() == home / "media" /
               Path(x["path"]).name for x in rows)
    m = json.loads((folder / "manifest.json").read_text())
    assert m["excluded_examples"]["missing_video"] == 2 and m["videos"] == {"mode": "link", "count": 4}
    q = wh.query("SELECT item, reason FROM quarantine WHERE stage = 'export'").to_dicts()
    assert q == [{"item": str(home / "media" / "gone.mp4"), "reason": "missing_video_file"}]
    assert sorted(p.name.split("-")[0] for p in linked.iterdir()) == ["verl", "videokr"]

    r = _videokr(home, "export", "--subjects", "biology,astrology", "--out", str(tmp_path / "none"))
    assert r.returncode == 2 and "unknown subject(s) ['astrology']" in r.stderr and "physics" in r.stderr
    assert not (tmp_path / "none").exists()
