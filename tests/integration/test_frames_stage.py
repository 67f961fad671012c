"""The frames stage against a temporary warehouse: per-video idempotent writes, bad files quarantined, the
screening/downloads input path, and a process pool."""
from __future__ import annotations

import pytest

from jobs import frames
from jobs.media.video_decode import sha256_file
from jobs.media.model_frames import timestamps
from jobs.media.windows import window_hashes_for
from tests.unit.frames_media import bad_files, render_video


@pytest.fixture(scope="module")
def media(tmp_path_factory):
    d = tmp_path_factory.mktemp("media")
    good = {"vidA": render_video(d / "a.mp4", seconds=45, seed=1), "vidB": render_video(d / "b.mp4", seconds=12, seed=2)}
    return d, good, bad_files(d, good["vidA"])


def _table(wh, name):
    return wh.query(f"SELECT * FROM {name} ORDER BY ALL")


def test_stage_writes_files_and_windows_quarantines_bad_and_is_idempotent(settings, wh, media):
    d, good, bad = media
    paths = {vid: {"path": str(p), "subject_id": "physics"} for vid, p in good.items()}
    paths |= {f"bad_{k}": {"path": str(p), "subject_id": "physics"} for k, p in bad.items()}
    paths["bad_missing"] = str(d / "never_downloaded.mp4")
    summary = frames.run(settings, params={"paths": paths, "workers": 2, "write_batch": 3})
    assert summary["videos"] == len(paths) and summary["bad"] == len(bad) + 1 and summary["workers"] == 2

    files = _table(wh, "video_files")
    assert sorted(files["video_id"]) == sorted(paths)
    ok = files.filter(files["status"] == "ok")
    assert sorted(ok["video_id"]) == ["vidA", "vidB"]
    a = ok.filter(ok["video_id"] == "vidA").row(0, named=True)
    assert (a["codec"], a["width"], a["height"], a["frames"]) == ("h264", 320, 180, 45 * 24)
    assert a["duration_s"] == pytest.approx(45.0) and a["bytes"] == good["vidA"].stat().st_size
    assert a["sha256"] == sha256_file(good["vidA"]) and a["subject_id"] == "physics"
    errors = dict(files.filter(files["status"] == "error").select("video_id", "error").iter_rows())
    assert errors["bad_zero_length"].startswith("zero_length:")
    assert errors["bad_not_video"].startswith("not_video:")
    assert errors["bad_truncated"].startswith("truncated_video:")
    assert errors["bad_truncated_faststart"].startswith("truncated_video:")
    assert errors["bad_corrupt"].startswith("corrupt_video:")
    assert errors["bad_missing"].startswith("missing_file:")

    wins = _table(wh, "window_hashes")
    assert sorted(set(wins["video_id"])) == ["vidA", "vidB"]
    assert wins.filter(wins["video_id"] == "vidA")["window_index"].to_list() == [0, 1, 2]
    assert wins.filter(wins["video_id"] == "vidA")["end_s"].to_list() == [20.0, 40.0, 45.0]
    assert wins.filter(wins["video_id"] == "vidA")["phash"].to_list() == [
        w["phash"] for w in window_hashes_for(good["vidA"])]

    plans = _table(wh, "model_frames")      # the instants every model will see, per frame budget
    assert sorted(set(plans["video_id"])) == ["vidA", "vidB"] and sorted(set(plans["budget_frames"])) == [8, 128]
    a8 = plans.filter((plans["video_id"] == "vidA") & (plans["budget_frames"] == 8)).row(0, named=True)
    assert a8["timestamps"] == timestamps(good["vidA"], 8) and a8["sha256"] == a["sha256"]

    q = wh.query("SELECT item, reason FROM quarantine WHERE stage = 'frames' ORDER BY item")
    assert dict(q.iter_rows()) == {"bad_corrupt": "corrupt_video", "bad_missing": "missing_file",
                                   "bad_not_video": "not_video", "bad_truncated": "truncated_video",
                                   "bad_truncated_faststart": "truncated_video", "bad_zero_length": "zero_length"}

    # rerun on the same input: nothing changes, rows keep the first run's id
    again = frames.run(settings, params={"paths": paths, "workers": 1})
    assert again["rows"].get("video_files", 0) == 0 and again["rows"].get("window_hashes", 0) == 0
    assert again["rows"].get("model_frames", 0) == 0
    assert _table(wh, "window_hashes").equals(wins) and _table(wh, "video_files").equals(files)

    # vidA's file is replaced by a shorter video: its windows are replaced (stale ones deleted), vidB untouched
    short = render_video(d / "a_short.mp4", seconds=15, seed=9)
    third = frames.run(settings, params={"paths": {"vidA": str(short)}, "workers": 1})
    wins3 = _table(wh, "window_hashes")
    assert wins3.filter(wins3["video_id"] == "vidA")["window_index"].to_list() == [0]
    assert wins3.filter(wins3["video_id"] == "vidB").equals(wins.filter(wins["video_id"] == "vidB"))
    assert set(wins3.filter(wins3["video_id"] == "vidA")["run_id"]) == {third["run_id"]}


def test_stage_reads_kept_videos_from_screening_and_downloads(settings, wh, media):
    d, good, bad = media
    rows_s = [{"video_id": "vidA", "subject_id": "physics", "decision": "keep"},
              {"video_id": "vidB", "subject_id": "chemistry", "decision": "keep"},
              {"video_id": "vidR", "subject_id": "physics", "decision": "reject"},
              {"video_id": "vidT", "subject_id": "physics", "decision": "keep"}]
    rows_d = [{"video_id": "vidA", "subject_id": "physics", "path": str(good["vidA"]), "status": "ok"},
              {"video_id": "vidB", "subject_id": "chemistry", "path": str(good["vidB"]), "status": "ok"},
              {"video_id": "vidR", "subject_id": "physics", "path": str(good["vidB"]), "status": "ok"},
              {"video_id": "vidT", "subject_id": "physics", "path": str(bad["truncated"]), "status": "ok"}]
    wh.write("screening", rows_s, "seed-run")
    wh.write("downloads", rows_d, "seed-run")
    assert frames.partitions(settings) == [["chemistry"], ["physics"]]
    assert frames.partitions(settings, ["physics"]) == [["physics"]]
    summary = frames.run(settings, subjects=["physics"], params={"workers": 1})
    assert summary["videos"] == 2 and summary["bad"] == 1
    files = _table(wh, "video_files")
    assert dict(files.select("video_id", "status").iter_rows()) == {"vidA": "ok", "vidT": "error"}
    assert set(_table(wh, "window_hashes")["video_id"]) == {"vidA"}
