"""The frames a model sees: the one path from (video file, frame budget, pixel budget) to frame instants, pixels and
encoded image parts. Generation, every verification check, visual relevance and moderation, export, training and
evaluation all call this module, so a question is generated, verified, trained on and evaluated on the same frames.

- Instants: `frame_sampling.pick_model_frames` on the video's packet index (uniform targets, at most `max_fps`,
  a keyframe where one lies within half a slot of the target, else the exact nearest free frame). They depend on the
  file only, and the frames stage stores them per video and budget in `model_frames`; a consumer that has the stored
  instants passes them (`timestamps=`) and decodes exactly those frames.
- Pixels: one size for every frame of a video. `Budget.max_side` caps the longest side (chat models);
  `Budget.max_video_tokens` fits the whole clip into the visual-token budget of a Qwen-style processor (multiples of
  patch * merge; the paper: 128 frames, 4,096 video tokens), so the processor never resizes or resamples again.
- Encoding: JPEG image parts for chat requests. Each part also carries its identity (video sha256, instant, size,
  format, quality) under the key `frame`, and the model layer keys its cache by that identity, not by the encoder's
  bytes (which change with a Pillow/OpenCV/FFmpeg upgrade); the key is stripped before a request is sent.
"""
from __future__ import annotations

import base64
import math
import os
from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np

from jobs.media.frame_sampling import pick_model_frames
from jobs.media.video_decode import Reformatter, VideoError, decode_frames, index_video, sha256_file

MAX_FRAMES = 128
MAX_VIDEO_TOKENS = 4096
MAX_FPS = 2.0
CACHE_VIDEOS = 8   # decoded clips kept per process by `load_cached` (up to ~19 MB each at 4,096 video tokens)

__all__ = ["Budget", "ModelFrames", "VideoError", "MAX_FRAMES", "MAX_VIDEO_TOKENS", "frame_size", "timestamps",
           "load", "load_cached", "image_parts", "encode_jpeg", "probe", "file_sha256"]


@dataclass(frozen=True)
class Budget:
    """How many frames (and how fast at most) and how many pixels a model gets from one video."""
    frames: int = MAX_FRAMES
    max_fps: float = MAX_FPS
    max_side: int | None = None            # chat models: longest side in pixels (None: native)
    max_video_tokens: int | None = None    # video-language models: visual tokens for the whole clip
    factor: int = 28                       # patch * merge of that model's vision tower
    temporal_patch: int = 2

    def size(self, height: int, width: int, n_frames: int) -> tuple[int, int]:
        """(height, width) of every frame of an `n_frames` clip whose native size is height x width."""
        if self.max_video_tokens is not None:
            return frame_size(height, width, n_frames, self.factor, self.temporal_patch, self.max_video_tokens)
        if self.max_side and max(height, width) > self.max_side:
            scale = self.max_side / max(height, width)
            return max(1, round(height * scale)), max(1, round(width * scale))
        return height, width


def frame_size(height: int, width: int, n_frames: int, factor: int = 28, temporal_patch: int = 2,
               max_video_tokens: int = MAX_VIDEO_TOKENS) -> tuple[int, int]:
    """Resize target (multiples of `factor`, aspect kept) so `n_frames` frames cost <= `max_video_tokens` tokens.

    A video costs ceil(T / temporal_patch) * (h / factor) * (w / factor) tokens, so the per-frame pixel budget is
    max_video_tokens / ceil(T / temporal_patch) * factor**2.
    """
    groups = math.ceil(n_frames / temporal_patch)
    max_pixels = max(factor * factor, (max_video_tokens // groups) * factor * factor)
    h = max(factor, round(height / factor) * factor)
    w = max(factor, round(width / factor) * factor)
    if h * w > max_pixels:
        beta = math.sqrt(height * width / max_pixels)
        h = max(factor, math.floor(height / beta / factor) * factor)
        w = max(factor, math.floor(width / beta / factor) * factor)
    return h, w


@dataclass
class ModelFrames:
    """Decoded RGB frames (T, H, W, 3 uint8) of one video at the chosen instants, with what processors need."""
    path: str
    sha256: str
    timestamps: list[float]          # seconds from the first frame, ascending
    array: np.ndarray
    fps: float
    total_num_frames: int
    duration_s: float
    meta: dict = field(default_factory=dict)   # the file's probe: bytes, codec, width, height, fps, duration_s

    @property
    def frames(self) -> list[np.ndarray]:
        return list(self.array)

    @property
    def frames_indices(self) -> list[int]:
        return [min(self.total_num_frames - 1, int(round(t * self.fps))) for t in self.timestamps]

    def metadata(self) -> dict:
        """The `video_metadata` a transformers video processor takes (timestamps and fps for its prompt)."""
        t, h, w = self.array.shape[:3]
        return {"fps": self.fps, "total_num_frames": self.total_num_frames, "frames_indices": self.frames_indices,
                "width": w, "height": h, "duration": self.duration_s}

    def one(self, i: int | None = None) -> "ModelFrames":
        """The clip reduced to its frame `i` (default: the middle one), e.g. for a blind solver's single frame."""
        i = len(self.timestamps) // 2 if i is None else i
        return replace(self, timestamps=[self.timestamps[i]], array=self.array[i:i + 1])


def timestamps(path: str | Path, frames: int = MAX_FRAMES, max_fps: float = MAX_FPS, index=None) -> list[float]:
    """The instants (seconds) the model frames of `path` are taken at, for this frame budget. Demux only."""
    index = index or index_video(path)
    picks = pick_model_frames(index, frames, max_fps)
    return sorted(round(float(index.times[p]), 6) for p in picks)


def stored_timestamps(wh, video_ids: list[str], budget: "Budget") -> dict[str, list[float]]:
    """The instants the frames stage stored in `model_frames` for these videos at this frame budget (video_id ->
    timestamps); videos without stored instants are absent (the caller then lets `load` choose, the same way)."""
    if not video_ids or "model_frames" not in wh.tables():
        return {}
    df = wh.query("""SELECT video_id, timestamps FROM model_frames WHERE budget_frames = ? AND max_fps = ?
                     AND video_id IN (SELECT unnest(?::VARCHAR[]))""",
                  [int(budget.frames), float(budget.max_fps), list(video_ids)])
    return {r["video_id"]: list(r["timestamps"]) for r in df.iter_rows(named=True)}


def request_times(video: dict, stamps: dict, n: int) -> list[float]:
    """The instants a request's frames are taken at: the stored ones (`stored_timestamps`), else n evenly spaced
    over the video's listed duration. A request without attached frames carries them (context `frame_times`), so
    the offline stand-in knows what it 'sees'; generate, verify and the review pilots use this one rule."""
    if video["video_id"] in stamps:
        return list(stamps[video["video_id"]])
    d = video.get("duration_s") or 0
    return [round((i + 0.5) * d / n, 3) for i in range(n)] if d and n > 0 else []


def probe(path: str | Path) -> dict:
    """The file's metadata (bytes, codec, size, fps, duration_s, frames); raises VideoError for a bad file."""
    return index_video(path).metadata()


@lru_cache(maxsize=256)
def _sha256_cached(path: str, mtime_ns: int, size: int) -> str:
    return sha256_file(path)


def file_sha256(path: str | Path) -> str:
    """sha256 of the file, computed once per (path, mtime, size) in a process."""
    st = os.stat(path)
    return _sha256_cached(str(path), st.st_mtime_ns, st.st_size)


def load(path: str | Path, budget: Budget = Budget(), stamps: list[float] | None = None,
         sha256: str | None = None) -> ModelFrames:
    """Decode the model frames of `path` for `budget`: at `stamps` when given (the stored instants), else at the
    instants `timestamps` chooses. Raises VideoError (with .reason) for a missing, empty, corrupt or truncated file."""
    index = index_video(path)
    if index.frames == 0 or budget.frames <= 0:
        raise VideoError(path, "no decodable frames")
    if stamps is None:
        picks = sorted(pick_model_frames(index, budget.frames, budget.max_fps), key=lambda p: index.times[p])
    else:
        picks = [int(np.abs(index.times - t).argmin()) for t in sorted(stamps)]
    h, w = budget.size(index.height, index.width, len(picks))
    scale = (h, w) != (index.height, index.width)
    wanted = {int(index.pts[p]) for p in picks}
    to_rgb = Reformatter("rgb24")
    got = {ts: to_rgb(fr, width=w, height=h, interpolation="AREA") if scale else to_rgb(fr)
           for ts, fr in decode_frames(index, wanted, threads=1, fmt=None)}
    array = np.stack([got[int(index.pts[p])] for p in picks])
    fps = float(index.fps or 25.0)
    return ModelFrames(str(path), sha256 or file_sha256(path), [round(float(index.times[p]), 6) for p in picks],
                       array, fps, max(1, index.frames), float(index.duration_s), index.metadata())


def load_cached(path: str | Path, budget: Budget = Budget(), stamps: list[float] | None = None) -> ModelFrames:
    """`load`, remembering the last CACHE_VIDEOS clips per process (shared: do not modify them), so the epochs and
    several questions of a video decode it once. A changed file (mtime) is decoded again."""
    try:
        stamp = Path(path).stat().st_mtime_ns
    except OSError:
        return load(path, budget, stamps)   # raises VideoError naming the file
    return _load_cached(str(path), stamp, budget, tuple(stamps) if stamps is not None else None)


@lru_cache(maxsize=CACHE_VIDEOS)
def _load_cached(path: str, mtime_ns: int, budget: Budget, stamps: tuple | None) -> ModelFrames:
    return load(path, budget, list(stamps) if stamps is not None else None)


def encode_jpeg(frame: np.ndarray, max_side: int | None = None, quality: int = 85) -> bytes:
    """RGB (H, W, 3) uint8 -> JPEG bytes (downscaled so the longest side is at most `max_side`, when given)."""
    if frame.ndim != 3 or frame.shape[2] != 3:
        raise ValueError(f"frame must be RGB (H, W, 3), got shape {frame.shape}")
    h, w = frame.shape[:2]
    if max_side and max(h, w) > max_side:
        scale = max_side / max(h, w)
        frame = cv2.resize(frame, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA)
    ok, buf = cv2.imencode(".jpg", cv2.cvtColor(np.ascontiguousarray(frame), cv2.COLOR_RGB2BGR),
                           [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    if not ok:
        raise ValueError("JPEG encoding failed")
    return buf.tobytes()


def image_parts(mf: ModelFrames, quality: int = 85, detail: str | None = None) -> list[dict]:
    """OpenAI chat `image_url` parts, one per frame in time order, each with its identity under `frame`."""
    parts = []
    for t, frame in zip(mf.timestamps, mf.array):
        url = "data:image/jpeg;base64," + base64.b64encode(encode_jpeg(frame, None, quality)).decode()
        image = {"url": url} if detail is None else {"url": url, "detail": detail}
        h, w = frame.shape[:2]
        parts.append({"type": "image_url", "image_url": image,
                      "frame": {"video_sha256": mf.sha256, "t": t, "size": [w, h], "format": "jpeg",
                                "quality": int(quality)}})
    return parts
