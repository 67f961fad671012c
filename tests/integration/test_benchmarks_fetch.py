"""`videokr benchmarks fetch` with the real yt-dlp (far end: YoutubeIE._real_extract patched to point at a loopback
server that honours Range), then the decontaminate stage hashing the fetched files into benchmark_windows.

Benchmarks: MMVU (built-in loader, one item) and SciVideoBench registered through `[[benchmarks.sources]]` (the
generic manifest loader) with a JSONL manifest written here: one video used by two items, one removed video and one
item whose URL is not YouTube."""
from __future__ import annotations

import json
from unittest import mock

import av
import numpy as np
import pytest
from yt_dlp.extractor.youtube import YoutubeIE
from yt_dlp.utils import ExtractorError

from jobs import decontaminate
from jobs.dedup import fetch
from tests.range_server import RangeServer
from videokr.cli.main import main
from videokr.settings import Settings
from warehouse import Warehouse, stage_run

A, B, GONE = "AAAAAAAAAA1", "BBBBBBBBBB2", "GONEGONE003"


def make_mp4(seed: int, seconds: int = 4, fps: int = 5) -> bytes:
    """A small video of random 8x6 block 'slides' changing every second (distinct per seed)."""
    import io
    rng, buf = np.random.default_rng(seed), io.BytesIO()
    with av.open(buf, "w", format="mp4") as c:
        s = c.add_stream("libx264", rate=fps)
        s.width, s.height, s.pix_fmt = 64, 48, "yuv420p"
        for _ in range(seconds):
            img = np.kron(rng.integers(0, 256, (6, 8, 3)), np.ones((8, 8, 1))).astype(np.uint8)
            for _ in range(fps):
                for p in s.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                    c.mux(p)
        for p in s.encode():
            c.mux(p)
    return buf.getvalue()


class Far(RangeServer):
    """Loopback media server (tests/range_server.py; the first transfer of B is cut short) and the extractor's view
    of YouTube: GONE was removed by its uploader."""

    def __init__(self):
        super().__init__({f"/{A}.mp4": make_mp4(1), f"/{B}.mp4": make_mp4(2)})
        self.extracts: list[str] = []
        self.removed = {GONE}
        self.truncate_once = f"/{B}.mp4"

    def extract(self, ie, url):
        vid = ie._match_id(url)
        self.extracts.append(vid)
        if vid in self.removed:
            raise ExtractorError("Video unavailable. This video has been removed by the uploader", expected=True)
        return {"id": vid, "title": vid, "formats": [{"format_id": "18", "url": f"{self.url}/{vid}.mp4", "ext": "mp4",
                                                      "height": 48, "width": 64, "vcodec": "avc1", "acodec": "mp4a",
                                                      "protocol": "http"}]}


@pytest.fixture
def far():
    f = Far()
    with mock.patch.object(YoutubeIE, "_real_extract", lambda ie, url: f.extract(ie, url)):
        yield f
    f.close()


@pytest.fixture
def config(home, tmp_path, monkeypatch):
    manifests = tmp_path / "manifests"
    (manifests / "mmvu").mkdir(parents=True)
    (manifests / "mmvu" / "validation.json").write_text(json.dumps([{
        "id": "validation_0", "youtube_url": f" https://youtu.be/{A}?si=xyz", "question": "What moves?",
        "question_type": "multiple-choice", "choices": {"A": "a", "B": "b"}, "answer": "A",
        "metadata": {"subject": "Physics"}}]))
    (manifests / "scivideobench").mkdir()
    items = [{"id": "sv1", "video_url": f"https://www.youtube.com/watch?v={B}&t=5", "question": "q1"},
             {"id": "sv2", "video_url": f"youtube.com/watch?v={B}", "question": "q2"},
             {"id": "sv3", "video_url": f"https://www.youtube.com/watch?v={GONE}", "question": "q3"},
             {"id": "sv4", "video_url": "https://www.jove.com/v/12345/titration", "question": "q4"}]
    (manifests / "scivideobench" / "test.jsonl").write_text("".join(json.dumps(i) + "\n" for i in items))
    cfg = tmp_path / "videokr.toml"
    cfg.write_text(f"""search_source = "youtube"
benchmarks_dir = "{manifests}"
[download]
retries = 2
retry_sleep = false
socket_timeout = 5
[benchmarks]
min_interval_s = 0
[[benchmarks.sources]]
name = "scivideobench"
path = "scivideobench/test.jsonl"
url_field = "video_url"
id_field = "id"
""")
    monkeypatch.setenv("VIDEOKR_CONFIG", str(cfg))
    return cfg


def _hash(settings) -> tuple[dict, int]:
    """The decontaminate stage's registry and window steps (its matching is not what this test is about)."""
    with Warehouse(settings) as wh, stage_run(wh, "decontaminate") as run:
        return decontaminate.load_registry(settings, run, {}), decontaminate.load_benchmark_windows(settings, wh, run, {})


def _fetch(capsys, *args) -> dict:
    assert main(["benchmarks", "fetch", *args]) == 0
    return json.loads(capsys.readouterr().out)


def test_fetch_hash_quarantine_and_rerun(far, config, home, capsys):
    # one benchmark, one video: the truncated first transfer is resumed with Range
    out = _fetch(capsys, "--benchmark", "scivideobench", "--limit", "1")
    assert (out["fetched"], out["missing"], out["videos"]) == (1, 0, {"scivideobench": 2}), out
    assert far.extracts == [B]
    ranges = [r for p, r in far.log if p == f"/{B}.mp4"]
    assert ranges[0] is None and any(r and r != "bytes=0-" for r in ranges[1:]), ranges

    out = _fetch(capsys)                                   # every benchmark: A fetched, GONE quarantined
    assert (out["fetched"], out["on_disk"], out["missing"], out["failed"]) == (1, 1, 1, 0), out
    root = home / "benchmarks"
    path_a, path_b = root / "mmvu" / A / f"{A}.mp4", root / "scivideobench" / B / f"{B}.mp4"
    assert path_a.read_bytes() == far.files[f"/{A}.mp4"] and path_b.read_bytes() == far.files[f"/{B}.mp4"]

    settings = Settings.load()
    with Warehouse(settings) as wh:
        vids = {r["video_id"]: r for r in wh.query("SELECT * FROM benchmark_videos").to_dicts()}
        assert {v: (r["benchmark"], r["status"], r["reason"]) for v, r in vids.items()} == {
            A: ("mmvu", "ok", None), B: ("scivideobench", "ok", None), GONE: ("scivideobench", "missing", "removed")}
        assert vids[B]["item_ids"] == ["sv1", "sv2"] and vids[B]["bytes"] == len(far.files[f"/{B}.mp4"])
        assert vids[A]["path"] == str(path_a) and vids[GONE]["path"] is None
        q = {r["item"]: r for r in wh.query("SELECT * FROM quarantine WHERE stage = 'benchmarks_fetch'").to_dicts()}
        assert set(q) == {f"scivideobench/{GONE}", "scivideobench/sv4"}
        assert q[f"scivideobench/{GONE}"]["reason"] == "benchmark_video_removed"
        assert "removed by the uploader" in q[f"scivideobench/{GONE}"]["detail"]
        assert q["scivideobench/sv4"]["reason"] == "benchmark_video_invalid_id"

    # the decontaminate stage's steps load the registry and hash the fetched files into benchmark_windows
    items, n_windows = _hash(settings)
    assert items == {"mmvu": 1, "scivideobench": 4} and n_windows > 0
    with Warehouse(settings) as wh:
        hashed = {tuple(r.values()) for r in wh.query(
            "SELECT DISTINCT benchmark, bench_video_id, item_id, source_path FROM benchmark_windows").to_dicts()}
        assert hashed == {("mmvu", A, "validation_0", str(path_a)), ("scivideobench", B, None, str(path_b))}
        cov = {r.pop("benchmark"): r for r in wh.query("SELECT * FROM v_benchmark_coverage").to_dicts()}
    assert cov["mmvu"] == {"items": 1, "items_without_video": 0, "videos": 1, "fetched": 1, "missing": 0,
                           "failed": 0, "hashed": 1, "items_hashed": 1}
    assert cov["scivideobench"] == {"items": 4, "items_without_video": 1, "videos": 2, "fetched": 1, "missing": 1,
                                    "failed": 0, "hashed": 1, "items_hashed": 2}

    # rerun: the files on disk are skipped before any yt-dlp call; only the removed video is tried again
    n_get, n_extract, mtime = len(far.log), len(far.extracts), path_b.stat().st_mtime_ns
    out = _fetch(capsys)
    assert (out["fetched"], out["on_disk"], out["missing"]) == (0, 2, 1), out
    assert len(far.log) == n_get and far.extracts[n_extract:] == [GONE] and path_b.stat().st_mtime_ns == mtime
    with Warehouse(settings) as wh:
        assert wh.query(f"SELECT attempts FROM benchmark_videos WHERE video_id = '{GONE}'").item() == 2
        assert wh.query("SELECT count(*) FROM benchmark_videos WHERE status = 'ok'").item() == 2
    assert _hash(settings)[1] == 0                         # nothing new to hash

    # the removed video comes back: the next fetch gets it and drops its quarantine row
    far.removed, far.files[f"/{GONE}.mp4"] = set(), make_mp4(3)
    out = _fetch(capsys)
    assert (out["fetched"], out["on_disk"], out["missing"]) == (1, 2, 0), out
    with Warehouse(settings) as wh:
        assert wh.query(f"SELECT status FROM benchmark_videos WHERE video_id = '{GONE}'").item() == "ok"
        assert wh.query("SELECT item FROM quarantine WHERE stage = 'benchmarks_fetch'")["item"].to_list() == [
            "scivideobench/sv4"]
    assert _hash(settings)[1] > 0
    with Warehouse(settings) as wh:
        assert wh.query("SELECT hashed FROM v_benchmark_coverage WHERE benchmark = 'scivideobench'").item() == 2


def test_fetch_is_a_noop_in_the_sample_world(home):
    out = fetch.run(Settings.load(search_source="sample"), {})
    assert "sample" in out["skipped"] and out["rows"] == {}
    assert not (home / "benchmarks").exists() and not (home / "catalog.sqlite").exists()


def test_unknown_benchmark_is_named(far, config, capsys):
    assert main(["benchmarks", "fetch", "--benchmark", "nosuch"]) == 2
    assert "nosuch" in capsys.readouterr().err and far.extracts == []
