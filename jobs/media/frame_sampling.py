"""Which frames to decode: model-input frames and window-hash frames, chosen on a VideoIndex (no decoding here).

Exact frames vs keyframes, per use:
- Model input (up to N=128 frames, at most 2 fps, uniform targets t_i = (i + 1/2) * duration / n): a keyframe is
  taken for a target when it is not already taken and lies within half a target spacing of it, because then it
  is as close to the uniform grid as the grid's own resolution and costs one intra-frame decode instead of a GOP.
  Otherwise (dense targets, e.g. short videos at 2 fps, or long GOPs) the exact frame nearest the target that is
  not yet taken is used: it costs decoding its GOP up to it, but keeps frames distinct and uniform. Either way every
  frame is distinct and within one keyframe interval of its target.
- Window hashes (20-s windows, a 1 Hz grid t = start + 0.5, 1.5, ... inside each window): the hash is an aggregate
  over many frames of a mostly static window, so a frame within 1 s of a grid point represents it as well as the
  exact one does. A keyframe within 1 s is used (with YouTube's 2-s GOPs that is always the case, so only
  keyframes are decoded); the exact nearest frame otherwise (long GOPs), never more than 1 s off.
"""
from __future__ import annotations

import math

import numpy as np

from jobs.media.video_decode import VideoIndex

WINDOW_S = 20.0
GRID_S = 1.0


def _order(index: VideoIndex) -> np.ndarray:
    """Packet indices sorted by presentation time."""
    return np.argsort(index.times, kind="stable")


def _nearest(sorted_times: np.ndarray, t: float) -> int:
    """Position in sorted_times of the value nearest t (earlier one on ties)."""
    j = int(np.searchsorted(sorted_times, t))
    if j == 0:
        return 0
    if j == len(sorted_times):
        return j - 1
    return j - 1 if t - sorted_times[j - 1] <= sorted_times[j] - t else j


def model_targets(duration_s: float, n: int = 128, max_fps: float = 2.0, frames: int | None = None) -> np.ndarray:
    """Uniform targets: min(n, floor(duration * max_fps), frames) of them (at least one), centred in equal slots."""
    k = min(n, max(1, int(math.floor(duration_s * max_fps + 1e-9))))
    if frames is not None:
        k = min(k, frames)
    return (np.arange(k) + 0.5) * duration_s / k


def pick_model_frames(index: VideoIndex, n: int = 128, max_fps: float = 2.0) -> list[int]:
    """Packet indices (one per target, distinct, in target order) of the frames for model input."""
    if n <= 0:
        return []
    targets = model_targets(index.duration_s, n, max_fps, index.frames)
    spacing = index.duration_s / len(targets)
    order = _order(index)
    times = index.times[order]
    key_pos = np.flatnonzero(index.key[order])          # positions (in time order) of keyframes
    key_times = times[key_pos]
    taken: set[int] = set()
    picks = []
    for t in targets:
        kp = int(key_pos[_nearest(key_times, t)])
        if kp not in taken and abs(times[kp] - t) <= spacing / 2 + 1e-9:
            pos = kp
        else:                                           # nearest free exact frame, widening around the target
            c = _nearest(times, t)
            lo, hi, pos = c, c + 1, None
            while pos is None:
                cands = [p for p in (lo, hi) if 0 <= p < len(times) and p not in taken]
                if cands:
                    pos = min(cands, key=lambda p: (abs(times[p] - t), p))
                lo, hi = lo - 1, hi + 1
                if lo < 0 and hi >= len(times) and pos is None:
                    raise ValueError(f"{index.path}: not enough frames for {len(targets)} targets")
        taken.add(pos)
        picks.append(int(order[pos]))
    return picks


def window_plan(index: VideoIndex, window_s: float = WINDOW_S, grid_s: float = GRID_S) -> list[dict]:
    """Per window: index, start/end seconds and the packet index chosen for each grid point (repeats allowed)."""
    duration = index.duration_s
    order = _order(index)
    times = index.times[order]
    key_pos = np.flatnonzero(index.key[order])
    key_times = times[key_pos]
    plan = []
    for w in range(max(1, math.ceil(duration / window_s - 1e-9))):
        start, end = w * window_s, min((w + 1) * window_s, duration)
        grid = np.arange(start + grid_s / 2, end, grid_s)
        if len(grid) == 0:
            grid = np.array([(start + end) / 2])
        picks = []
        for t in grid:
            kp = int(key_pos[_nearest(key_times, t)])
            pos = kp if abs(times[kp] - t) <= grid_s + 1e-9 else _nearest(times, t)
            picks.append(int(order[pos]))
        plan.append({"window_index": w, "start_s": round(start, 6), "end_s": round(end, 6), "packets": picks})
    return plan
