"""The full sample library, built once (about 30-60 s on 2 cores): cache, files, planted items, decoding."""
from __future__ import annotations

import json
import os
import time

import av
import pytest

from jobs.sources.sample.captions import check_captions
from jobs.sources.sample.library import build_library, library_summary, load_library
from jobs.sources.sample.metadata import parse_iso_duration
from jobs.sources.sample.search import SampleDownloader
from jobs.sources.sample.spec import load_scene_kps


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    from videokr.settings import Settings
    home = tmp_path_factory.mktemp("home")
    settings = Settings(home=home)
    t0 = time.time()
    lib = build_library(settings)
    return {"settings": settings, "lib": lib, "build_s": time.time() - t0}


def _frames(path):
    with av.open(str(path)) as c:
        vs = c.streams.video[0]
        n = sum(1 for _ in c.decode(vs))
        return n, float(vs.average_rate), vs.width, vs.height


def test_second_build_renders_nothing(built):
    lib = built["lib"]
    files = {p: p.stat().st_mtime_ns for p in (lib.root / "render").rglob("*") if p.is_file()}
    again = build_library(built["settings"])
    assert {p: p.stat().st_mtime_ns for p in (lib.root / "render").rglob("*") if p.is_file()} == files
    assert [it.video_id for it in again.items] == [it.video_id for it in lib.items]
    assert [it.video_id for it in load_library(built["settings"]).items] == [it.video_id for it in lib.items]


def test_summary_counts(built):
    s = library_summary(built["lib"])
    print(json.dumps(s, indent=1), f"\nbuilt in {built['build_s']:.1f}s")
    kps = load_scene_kps()
    assert s["videos_per_scene_type"] == {st: len(rows) for st, rows in kps.items()}
    assert s["planted_per_expected_filter"]["decontaminate:phash"] >= 2
    assert s["planted_per_expected_filter"]["screen:text_relevance"] >= 2


def test_every_video_decodes_with_declared_duration_and_fps(built):
    corrupt = {m["video_id"] for m in built["lib"].manifest if m["expected_filter"] == "screen:corrupt"}
    checked = 0
    for it in built["lib"].items:
        if it.mp4 is None or it.video_id in corrupt:
            continue
        n, fps, w, h = _frames(it.mp4)
        sc = it.scene
        assert (fps, w, h) == (sc["fps"], sc["width"], sc["height"]), it.key
        assert n == round(sc["duration_s"] * sc["fps"]), it.key
        if it.vtt:
            assert check_captions(it.vtt.read_text(), sc["facts"]) == [], it.key
        checked += 1
    assert checked >= 50


def test_planted_files_are_as_promised(built):
    lib = built["lib"]
    by_kind = {it.planted: it for it in lib.items if it.planted}
    assert by_kind["zero_byte_mp4"].mp4.stat().st_size == 0
    with pytest.raises(av.error.FFmpegError):           # truncated: the moov atom is gone
        _frames(by_kind["truncated_mp4"].mp4)
    assert by_kind["over_30_minutes"].mp4 is None
    assert parse_iso_duration(by_kind["over_30_minutes"].metadata["contentDetails"]["duration"]) > 1800
    assert by_kind["no_captions"].vtt is None and by_kind["no_captions"].mp4 is not None
    assert by_kind["unsafe_frames"].scene["unsafe_frames"] is True
    originals = {b["video_id"]: b for b in lib.benchmark_videos}
    assert len(originals) == 2 and not set(originals) & {it.video_id for it in lib.items}
    copies = [it for it in lib.items if it.expected_filter == "decontaminate:phash"]
    assert len(copies) == 3
    for it in copies:
        orig = next(b for b in lib.benchmark_videos if b["scene"]["scene_type"] == it.scene["scene_type"])
        on, _, ow, oh = _frames(orig["mp4"])
        cn, _, cw, ch = _frames(it.mp4)
        assert (cw, ch) != (ow, oh) and 8 <= on - cn <= 48              # resized, trimmed by 1-6 s
        assert abs(os.path.getsize(it.mp4) - os.path.getsize(orig["mp4"])) > 1000


def test_downloader_serves_every_downloadable_item(built, tmp_path):
    dl = SampleDownloader(built["lib"])
    for it in built["lib"].items:
        d = dl.download(it.video_id, tmp_path)
        if it.mp4 is None:
            assert d.path is None and d.error
        else:
            assert d.path == tmp_path / f"{it.video_id}.mp4" and d.path.stat().st_size == it.mp4.stat().st_size
            assert (d.captions_path is None) == (it.vtt is None)
