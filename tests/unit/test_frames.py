"""Model frames, window hashes, typed errors and memory of jobs.media (model_frames, windows, video_decode) on
rendered videos."""
from __future__ import annotations

import gc
import os

import av
import imagehash
import numpy as np
import pytest
from PIL import Image

from jobs.media import model_frames as mfr
from jobs.media import phash, windows
from jobs.media.frame_sampling import model_targets
from jobs.media.video_decode import (CorruptVideo, MissingVideo, NotAVideo, TruncatedVideo, VideoError,
                               ZeroLengthVideo, decode_frames, index_video)
from tests.unit.frames_media import bad_files, reencode, render_video


@pytest.fixture(scope="module")
def media(tmp_path_factory):
    d = tmp_path_factory.mktemp("media")
    return {
        "v30": render_video(d / "v30.mp4", seconds=30, fps=24, seed=1),             # 2-s GOP, B-frames
        "v80": render_video(d / "v80.mp4", seconds=80, fps=24, seed=3, slide_s=15),
        "longgop": render_video(d / "longgop.mp4", seconds=24, fps=24, gop_s=8.0, seed=5),
        "dir": d,
    }


def _all_frames(path) -> dict[float, np.ndarray]:
    with av.open(str(path)) as c:
        return {round(float(f.time), 6): f.to_ndarray(format="rgb24") for f in c.decode(c.streams.video[0])}


def test_index_reports_file_metadata(media):
    idx = index_video(media["v30"])
    meta = idx.metadata()
    assert (meta["codec"], meta["width"], meta["height"], meta["frames"]) == ("h264", 320, 180, 720)
    assert meta["fps"] == pytest.approx(24.0) and meta["duration_s"] == pytest.approx(30.0)
    assert meta["bytes"] == os.path.getsize(media["v30"])
    assert np.allclose(idx.key_times, np.arange(0, 30, 2.0))


@pytest.mark.parametrize("name,n,expected", [("v30", 128, 60), ("v80", 128, 128), ("v80", 16, 16),
                                             ("v80", 3, 3), ("longgop", 128, 48)])
def test_model_frames_are_uniform_distinct_exact_and_near_targets(media, name, n, expected):
    path = media[name]
    idx = index_video(path)
    clip = mfr.load(path, mfr.Budget(frames=n))
    got = list(zip(clip.timestamps, clip.array))
    assert len(got) == expected and clip.timestamps == mfr.timestamps(path, n)
    times = [t for t, _ in got]
    assert times == sorted(times) and len(set(times)) == len(times)
    gop = float(np.max(np.diff(idx.key_times)))
    targets = model_targets(idx.duration_s, n, 2.0, idx.frames)
    assert np.all(np.abs(np.array(times) - targets) <= gop + 1e-6)
    truth = _all_frames(path)   # sequential decode of every frame: what each returned frame must equal
    for t, a in got:
        assert np.array_equal(a, truth[round(t, 6)]), f"{name}: frame at {t}s differs from a full decode"


def test_kept_keyframes_decode_like_a_second_demux(media, monkeypatch):
    """Keyframe packets kept from the index pass decode to the same frames as demuxing again, mixed with exact
    (non-key) frames and seeks; over the byte budget nothing is kept; the stage's results do not depend on it."""
    path = media["v80"]
    plain, kept = index_video(path), index_video(path, keep_keyframes_bytes=64 << 20)
    assert plain.key_packets is None and len(kept.key_packets) == int(kept.key.sum())
    assert index_video(path, keep_keyframes_bytes=1000).key_packets is None
    wanted = {int(t) for t in kept.pts[kept.key][::2]} | {int(kept.pts[i]) for i in (5, 700, 1900)}
    a, b = dict(decode_frames(plain, wanted)), dict(decode_frames(kept, wanted))
    assert set(a) == set(b) == wanted
    assert all(np.array_equal(a[t], b[t]) for t in wanted)
    res = windows.hash_video(path)
    monkeypatch.setattr(windows, "KEEP_KEYFRAMES_BYTES", 0)
    ref = windows.hash_video(path)
    assert res.windows == ref.windows and res.index.key_packets is None


def test_window_hashes_are_half_window_mean_phashes_at_1hz(media):
    path = media["v30"]
    wins = windows.window_hashes_for(path)
    assert [(w["window_index"], w["start_s"], w["end_s"]) for w in wins] == [(0, 0.0, 20.0), (1, 20.0, 30.0)]
    truth = _all_frames(path)
    keys = np.array(sorted(truth))
    for w in wins:
        # each 1 Hz grid point is served by the nearest keyframe (2-s GOP) when within 1 s, else the nearest frame
        grid = np.arange(w["start_s"] + 0.5, w["end_s"], 1.0)
        key_t = np.arange(0, 30, 2.0)
        chosen = [key_t[np.argmin(np.abs(key_t - t))] if np.min(np.abs(key_t - t)) <= 1.0
                  else keys[np.argmin(np.abs(keys - t))] for t in grid]
        # the frame thumbnail: imagehash's (32x32 Lanczos gray) of the frame with letterbox bars stripped and corners
        # masked (windows.CORNERS); without the mask the same hasher is imagehash bit for bit (tests/unit/test_phash.py)
        frames = [windows.content_view(truth[round(float(t), 6)]) for t in chosen]
        ref = phash.PHasher(corners=windows.CORNERS)
        for f in frames:
            ref.add(f)
        q, small = ref.quality_and_thumbnails()
        # the window's two hashes: pHash of the mean thumbnail of each half of its grid points
        half = (len(frames) + 1) // 2
        means = np.stack([small[:half].mean(0), small[half:].mean(0)])
        assert [w["phash"], w["phash2"]] == phash.phash_small(means).tolist()
        assert w["quality"] == int(min(np.median(q[:half]), np.median(q[half:])))
        plain = [phash.imagehash_int(imagehash.phash(Image.fromarray(np.ascontiguousarray(f)))) for f in frames]
        assert phash.phash_frames(frames).tolist() == plain
        assert w["frame_count"] == len(set(chosen))
        assert 0 <= w["phash"] < 1 << 64 and 0 <= w["phash2"] < 1 << 64


def _dist(a: dict, b: dict) -> float:
    """The near-duplicate window distance (jobs/dedup/neardup.py): mean Hamming distance of the two half hashes."""
    return (phash.hamming(a["phash"], b["phash"]) + phash.hamming(a["phash2"], b["phash2"])) / 2


def test_window_hash_survives_reencode_resize_and_shift(media):
    """A copy's fixed windows are close to the original's windows starting every second (the benchmark layout)
    at its time shift; an unrelated video's are not, at any alignment."""
    src, d = media["v80"], media["dir"]
    orig = windows.sliding_window_hashes_for(src)

    def near(w: dict, shift: float) -> float:   # as the matcher aligns: benchmark windows within 1 s
        return min([_dist(w, o) for o in orig if abs(o["start_s"] - (w["start_s"] + shift)) <= 1.0] or [99])

    copies = {"reencoded": (reencode(src, d / "re.mp4", (256, 144), gop_s=3.0), 0.0),
              "shifted_3s": (reencode(src, d / "sh.mp4", (288, 162), gop_s=2.5, shift_s=3.0), 3.0)}
    other = windows.window_hashes_for(render_video(d / "other.mp4", 80, seed=4, slide_s=15))
    unrelated = [min(_dist(w, o) for o in orig) for w in other if w["end_s"] - w["start_s"] >= 10]
    for name, (path, shift) in copies.items():
        dist = [near(w, shift) for w in windows.window_hashes_for(path) if w["end_s"] - w["start_s"] >= 10]
        dist = [x for x in dist if x < 99]            # (a last window past the original's last start has none)
        assert len(dist) >= 3 and max(dist) <= 7, (name, dist)
        assert max(dist) < min(unrelated), (name, dist, unrelated)


def test_bad_files_raise_typed_errors(media, tmp_path):
    bad = bad_files(tmp_path, media["v30"])
    expected = {"zero_length": ZeroLengthVideo, "not_video": NotAVideo, "truncated": TruncatedVideo,
                "truncated_faststart": TruncatedVideo, "corrupt": CorruptVideo}
    for kind, path in bad.items():
        with pytest.raises(expected[kind]) as err:
            windows.window_hashes_for(path)
        assert str(path) in str(err.value) and err.value.reason in str(err.value)
    with pytest.raises(MissingVideo):
        mfr.load(tmp_path / "nope.mp4")
    audio = tmp_path / "tone.wav"
    with av.open(str(audio), "w") as out:
        st = out.add_stream("pcm_s16le", rate=8000)
        frame = av.AudioFrame.from_ndarray(np.zeros((1, 8000), np.int16), format="s16", layout="mono")
        frame.sample_rate = 8000
        for pkt in st.encode(frame):
            out.mux(pkt)
    with pytest.raises(NotAVideo, match="no video stream"):
        windows.window_hashes_for(audio)
    png = tmp_path / "slide.png"
    Image.new("RGB", (64, 48), (200, 10, 10)).save(png)
    with pytest.raises(VideoError, match="still image"):
        windows.window_hashes_for(png)


def _rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def test_rss_stays_flat_over_500_decodes(tmp_path):
    path = render_video(tmp_path / "tiny.mp4", seconds=2, fps=12, size=(96, 64), gop_s=1.0)
    for _ in range(30):                       # warm-up: allocator pools, codec tables, caches
        windows.hash_video(path)
        mfr.load(path, mfr.Budget(frames=4))
    gc.collect()
    before = _rss_bytes()
    for _ in range(500):
        res = windows.hash_video(path)
        clip = mfr.load(path, mfr.Budget(frames=4))
        assert len(clip.timestamps) == 4 and res.windows
    gc.collect()
    growth = _rss_bytes() - before
    assert growth < 16 * 2**20, f"RSS grew {growth / 2**20:.1f} MiB over 500 decodes"
