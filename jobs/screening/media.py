"""Probe a downloaded mp4 and sample a few frames for moderation and the visual relevance judge.

Uses the shared PyAV decoder (jobs/video_decode.py): demux-only index first (catches zero-byte, truncated and
corrupt files with a typed reason), then decode only the keyframes nearest to evenly spaced times.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from jobs.video_decode import VideoError, decode_frames, index_video

__all__ = ["VideoError", "sample_frames"]


def sample_frames(path: str | Path, count: int = 4) -> tuple[dict, list[np.ndarray]]:
    """(metadata, up to `count` RGB frames in time order). Raises VideoError (with .reason) for a bad file."""
    idx = index_video(path)
    key_pts = np.sort(idx.pts[idx.key])
    if count <= 0 or not len(key_pts):
        return idx.metadata(), []
    times = (key_pts - idx.start_pts) * idx.time_base
    targets = (np.arange(count) + 0.5) * idx.duration_s / count
    chosen = sorted({int(key_pts[np.abs(times - t).argmin()]) for t in targets})
    frames = dict(decode_frames(idx, set(chosen), threads=1))
    if not frames:
        raise VideoError(path, "no frame could be decoded")
    return idx.metadata(), [frames[p] for p in chosen if p in frames]
