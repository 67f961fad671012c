"""Window hashes: one selective decode of a video's 1 Hz grid frames per 20-second window, hashed with pHash.

Each decoded frame is converted to RGBX and its pHash's per-frame work done on a worker thread, while the decoder's
frame threads decode the next ones (see video_decode.py for how only the needed packets are decoded and
frame_sampling.py for which frames a window uses).

Window code (decontamination): two 64-bit pHashes, `phash` of the window's first half (grid points 0-9) and
`phash2` of its second half (10-19), each the pHash (imagehash's DCT / median / comparison) of the mean of the
half's frame thumbnails (32x32 gray, letterbox bars stripped, logo corners masked). Why (measured on the lecture
transformation set, tests/neardup_world.py; best 2-window run, mean bits of 64 per hash):
- a whole-window majority pHash drifts toward the channel's slide template: unrelated lectures of one template
  came within 4 bits while crops of real copies were 7 bits off, so no threshold separated them;
- halves keep the order of the slides inside the window, which a copy keeps and a template-mate does not:
  copies <= 5, template-mates >= 10 (on libx264 files, keyframe-sampled: <= 7 vs >= 9); thirds or quarters
  separate more in memory but not on files, where a keyframe serves a grid point up to 1 s away;
- the mean thumbnail, then one threshold, averages re-encode noise and sample jitter before the bits are cut (a
  per-bit majority of the frames' hashes cuts every frame first: 8 vs 9 on files); black or faded frames in a
  half only scale its mean, which the median comparison ignores.
A shift of a few seconds is absorbed on the benchmark side (a window at every second, see below).

Window quality: the lower of the two halves' median frame information score (`phash.quality_from_small`,
0..100): a half of mostly blank or faded-out frames hashes its noise, so such windows never count as evidence
(jobs/dedup/neardup.py).

Two window layouts over the same decoded 1 Hz grid frames (`Grid`):
- `Grid.fixed()`: the corpus layout, windows [20 i, 20 (i + 1)) (`window_hashes`, written by the frames stage);
- `Grid.sliding()`: the benchmark layout, a 20-s window starting at every grid second (`benchmark_windows`).
  Every corpus window of a copy, whatever its time shift, then has a benchmark window within 0.5 s of
  alignment; the benchmark side is small, so 20x its windows is cheap (see jobs/dedup/neardup.py).
"""
from __future__ import annotations

import math
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np

from jobs.media import phash
from jobs.media.frame_sampling import GRID_S, WINDOW_S, window_plan
from jobs.media.video_decode import Reformatter, VideoIndex, decode_frames, index_video

try:  # BLAS threads would fight the decoder threads over the cores; pHash batches are small: one BLAS thread
    from threadpoolctl import threadpool_limits
except ImportError:  # pragma: no cover - threadpoolctl ships with scikit-learn; without it BLAS keeps its default
    threadpool_limits = None

HASH_VERSION = 4                   # bumped when a window's hash or quality changes: the frames stage re-hashes
_BATCH, _IN_FLIGHT = 4, 8          # decoded frames per worker task; tasks queued before the decoder waits
KEEP_KEYFRAMES_BYTES = 64 << 20  # keyframe packets kept from the index pass (saves a second demux when they fit)


@dataclass
class Grid:
    """Per 1 Hz grid point of a video, in time order: its fixed window, time, frame id, thumbnail and quality."""
    window: np.ndarray     # int: fixed-grid window index of the point
    times: np.ndarray      # float: grid time (start + 0.5, 1.5, ... inside each window; a midpoint for a stub)
    frame: np.ndarray      # int: id of the frame that served the point (a frame may serve two points)
    small: np.ndarray      # (n, 32, 32) float32: the hashed thumbnail (phash.PHasher.thumbnails) of each point
    quality: np.ndarray    # int32, 0..100
    duration_s: float
    window_s: float = WINDOW_S

    def fixed(self) -> list[dict]:
        """The corpus layout: one row per fixed window [w * window_s, (w + 1) * window_s)."""
        out = []
        for w in range(int(self.window.max()) + 1 if len(self.window) else 0):
            sel = np.flatnonzero(self.window == w)
            start = w * self.window_s
            out.append({"window_index": w, "start_s": round(start, 6),
                        "end_s": round(min(start + self.window_s, self.duration_s), 6),
                        **window_code(self.small[sel], self.quality[sel]),
                        "frame_count": len(set(self.frame[sel].tolist()))})
        return out

    def sliding(self, step: int = 1) -> list[dict]:
        """The benchmark layout: a window of window_s grid points starting at every `step`-th grid second
        (window_index = start second). A video shorter than one window yields one window over all its points."""
        n_win = int(round(self.window_s))                     # grid points per window (1 Hz)
        pts = np.flatnonzero(np.isclose(self.times % 1.0, 0.5))  # whole-second grid points (stubs' midpoints off)
        if len(pts) == 0:
            pts = np.arange(len(self.times))
        if len(pts) < n_win:
            c = window_code(self.small[pts], self.quality[pts])
            return [{"window_index": 0, "start_s": 0.0, "end_s": round(self.duration_s, 6), **c,
                     "frame_count": len(set(self.frame[pts].tolist()))}]
        starts = np.arange(0, len(pts) - n_win + 1, step)
        half = n_win // 2
        # mean thumbnail of every run of `half` points from a cumulative sum: half a (s) and half b (s + half)
        flat = self.small[pts].reshape(len(pts), -1).astype(np.float64)
        csum = np.vstack([np.zeros((1, flat.shape[1])), np.cumsum(flat, axis=0)])
        run = ((csum[half:] - csum[:-half]) / half).reshape(-1, *self.small.shape[1:])
        h = phash.phash_small(run)
        qa = np.median(np.lib.stride_tricks.sliding_window_view(self.quality[pts], half), axis=1)
        fr = np.lib.stride_tricks.sliding_window_view(self.frame[pts], n_win)
        return [{"window_index": int(s), "start_s": round(float(self.times[pts[s]]) - 0.5, 6),
                 "end_s": round(min(float(self.times[pts[s]]) - 0.5 + self.window_s, self.duration_s), 6),
                 "phash": int(h[s]), "phash2": int(h[s + half]), "quality": int(min(qa[s], qa[s + half])),
                 "frame_count": len(set(fr[s].tolist()))} for s in starts]


def window_code(small: np.ndarray, quality: np.ndarray) -> dict:
    """{phash, phash2, quality} of one window from its points' thumbnails and quality scores, in time order:
    the pHash of the mean thumbnail of each half (a one-point window: that point twice), and the lower of the
    halves' median quality (see the module docstring)."""
    n = len(small)
    a, b = (slice(0, (n + 1) // 2), slice((n + 1) // 2, n)) if n > 1 else (slice(0, 1), slice(0, 1))
    means = np.stack([small[a].mean(axis=0, dtype=np.float64), small[b].mean(axis=0, dtype=np.float64)])
    h = phash.phash_small(means)
    q = min(np.median(quality[a]), np.median(quality[b]))
    return {"phash": int(h[0]), "phash2": int(h[1]), "quality": int(q)}


BAR_LEVEL = 24        # a letterbox/pillarbox bar: rows (columns) whose sampled pixels' luma is all this or darker,
BAR_NOISE = 10        # and within this of the outermost rows (columns): a bar is as dark as the frame's edge
CORNERS = (0.15, 0.2)  # corner boxes (width, height fractions) masked out of every frame hash (logos)


def content_view(frame: np.ndarray) -> np.ndarray:
    """The part of a (H, W, 3|4) frame that is hashed: black bars (letterbox, pillarbox: symmetric dark borders)
    stripped. A view, no copy. (The hasher then masks the CORNERS boxes, where logos sit.)

    Why: a letterbox or pillarbox of 10% moves every low DCT frequency of the frame (measured on the lecture
    transformation set: 5-16 bits of 64 per window; 0-6 once stripped), and a corner logo of 1/10 x 1/8 of the
    frame 5-25 bits (0-3 once masked). Bars are detected on a sparse sample of pixels (cheap at any size) and only
    when symmetric (re-encoders centre the picture), so a slide with a dark band on one side is not cut. Luma, not
    the channels' max: 4:2:0 chroma bleeds colour into the bar rows next to the picture (on small libx264 copies
    an RGB max <= 48 missed 37% of letterboxed frames, luma <= 24 1 of 204). Relative to the frame's edge rows:
    a near-black slide background (luma 10-24) would otherwise extend the bar into the picture, one side only,
    and no bar was cut (6% of the letterboxed frames of one generated set; 1% with BAR_NOISE)."""
    h, w = frame.shape[:2]
    if h < 8 or w < 8:
        return frame
    rows = _dark(_luma(frame[:, ::max(1, w // 16)]).max(axis=1))
    cols = _dark(_luma(frame[::max(1, h // 16)]).max(axis=0))
    top, left = _bar(rows, h), _bar(cols, w)
    return frame[top[0]:h - top[1], left[0]:w - left[1]]


def _dark(m: np.ndarray) -> np.ndarray:
    """Which rows (columns), by their max luma `m`, are as dark as a bar: <= BAR_LEVEL and within BAR_NOISE of
    the brighter of the outermost two (both in the bars, when there are bars)."""
    return m <= min(BAR_LEVEL, max(int(m[0]), int(m[-1])) + BAR_NOISE)


def _luma(px: np.ndarray) -> np.ndarray:
    """Approximate ITU-R 601 luma of (..., 3|4) uint8 pixels (int32)."""
    p = px.astype(np.int32)
    return (77 * p[..., 0] + 150 * p[..., 1] + 29 * p[..., 2]) >> 8


def _bar(dark: np.ndarray, n: int) -> tuple[int, int]:
    """(leading, trailing) bar sizes of a dark-row mask: both kept only when alike and below a quarter each."""
    a = int(np.argmin(dark)) if not dark.all() else n
    b = int(np.argmin(dark[::-1])) if not dark.all() else n
    if a == 0 or b == 0 or max(a, b) > n // 4 or abs(a - b) > max(2, n // 50):
        return 0, 0
    return a, b


def grid_points(duration_s: float, window_s: float = WINDOW_S, grid_s: float = GRID_S) -> list[tuple[int, float]]:
    """(window index, time) of every grid point, as `frame_sampling.window_plan` lays them out: for frames
    rendered or held in memory (tests, benchmarks) that go through the same hashing as a decoded file."""
    out = []
    for w in range(max(1, math.ceil(duration_s / window_s - 1e-9))):
        start, end = w * window_s, min((w + 1) * window_s, duration_s)
        grid = np.arange(start + grid_s / 2, end, grid_s)
        out += [(w, float(t)) for t in (grid if len(grid) else [(start + end) / 2])]
    return out


def grid_from_frames(frames, duration_s: float, window_s: float = WINDOW_S) -> Grid:
    """A Grid from frames already at `grid_points(duration_s)` (one RGB/RGBX uint8 frame per point), hashed
    exactly as `hash_video` hashes decoded frames."""
    pts = grid_points(duration_s, window_s)
    hasher = phash.PHasher(corners=CORNERS)
    for f in frames:
        hasher.add(content_view(f))
    if hasher.n != len(pts):
        raise ValueError(f"grid_from_frames: {hasher.n} frames for {len(pts)} grid points")
    q, small = hasher.quality_and_thumbnails()
    return Grid(np.array([w for w, _ in pts]), np.array([t for _, t in pts]), np.arange(len(pts)),
                small.astype(np.float32), q, float(duration_s), window_s)


@dataclass
class VideoWindows:
    """What one decode of a video yields: its packet index, its grid of frame hashes and its (fixed) windows."""
    index: VideoIndex
    windows: list[dict] = field(default_factory=list)   # window_index, start_s, end_s, phash, phash2, quality, ...
    grid: Grid | None = None


def hash_video(path, window_s: float = WINDOW_S, threads: int = 0) -> VideoWindows:
    """Index `path`, decode the window frames once, hash them. Raises a VideoError subclass for a bad file."""
    if threadpool_limits is None:
        return _hash_video(path, window_s, threads)
    with threadpool_limits(limits=1, user_api="blas"):
        return _hash_video(path, window_s, threads)


def _hash_video(path, window_s: float, threads: int) -> VideoWindows:
    index = index_video(path, keep_keyframes_bytes=KEEP_KEYFRAMES_BYTES)
    plan = window_plan(index, window_s)
    hash_pts = {int(index.pts[p]) for w in plan for p in w["packets"]}
    hashed: dict[int, int] = {}          # pts -> position in the hasher
    to_rgbx, hasher = Reformatter("rgba"), phash.PHasher(corners=CORNERS)

    def convert_and_hash(batch: list) -> None:   # runs on the worker thread, which alone touches these
        for ts, fr in batch:
            hashed[ts] = hasher.add(content_view(to_rgbx(fr)))

    # This thread only demuxes and feeds the decoder (whose frame threads decode); a worker thread converts and
    # hashes each small batch of decoded frames (swscale, PIL's convert and BLAS release the GIL), so decoding
    # and hashing overlap on 2 cores. At most _IN_FLIGHT batches wait, which bounds the decoded frames held.
    with ThreadPoolExecutor(1, thread_name_prefix="frames-hash") as pool:
        in_flight: deque[Future] = deque()
        batch: list = []
        for item in decode_frames(index, hash_pts, threads=threads, fmt=None):
            batch.append(item)
            if len(batch) >= _BATCH:
                in_flight.append(pool.submit(convert_and_hash, batch))
                batch = []
                if len(in_flight) > _IN_FLIGHT:
                    in_flight.popleft().result()
        in_flight.append(pool.submit(convert_and_hash, batch))
        for fut in in_flight:
            fut.result()
    index.key_packets = None   # the compressed keyframes are not needed any more
    quality, small = hasher.quality_and_thumbnails()
    points = grid_points(index.duration_s, window_s)      # window_plan's grid, point for point
    frame = [int(index.pts[p]) for w in plan for p in w["packets"]]
    if len(frame) != len(points):
        raise AssertionError(f"{path}: window plan has {len(frame)} frames for {len(points)} grid points")
    pos = np.array([hashed[t] for t in frame], dtype=np.int64)
    grid = Grid(np.array([w for w, _ in points]), np.array([t for _, t in points]), np.array(frame),
                small[pos].astype(np.float32), quality[pos], index.duration_s, window_s)
    return VideoWindows(index, grid.fixed(), grid)


def window_hashes_for(path, window_s: float = WINDOW_S, threads: int = 0) -> list[dict]:
    """Fixed-grid window hashes of one video file (the corpus layout): [{window_index, start_s, end_s, phash,
    phash2 (int, uint64), quality, frame_count}]. Pure function of the file."""
    return hash_video(path, window_s=window_s, threads=threads).windows


def sliding_window_hashes_for(path, window_s: float = WINDOW_S, step: int = 1, threads: int = 0) -> list[dict]:
    """Window hashes starting at every `step`-th second of one video file (the benchmark layout; window_index =
    start second), from the same single decode of its 1 Hz grid frames."""
    return hash_video(path, window_s=window_s, threads=threads).grid.sliding(step)
