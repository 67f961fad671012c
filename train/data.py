"""VideoKR JSONL records, prompts, and video frames decoded here with PyAV under a frame and token budget.

Records (the released VideoKR shape): problem_id, problem_type ("multiple choice" | "open-ended"), question,
options (["A. ...", ...]), solution ("<answer>B</answer>"), think (SFT file only), video_path (absolute, or relative
to the JSONL file). Frames are sampled uniformly over the video, at most `MAX_FRAMES`, and resized so the whole
video costs at most `MAX_VIDEO_TOKENS` visual tokens for the model's patch/merge sizes (the paper: 128 frames,
4,096 video tokens), so the processor never resizes or resamples again.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np

from jobs import instruction as export_prompt

MAX_FRAMES = 128
MAX_VIDEO_TOKENS = 4096
SEEK_ABOVE_S = 60.0  # longer videos are read by seeking to each sampled time instead of decoding everything
FRAME_CACHE_SIZE = 8  # decoded videos kept per process by frames_for: up to ~19 MB each at 4,096 video tokens



class VideoDecodeError(RuntimeError):
    """A video that cannot be opened or holds no decodable frames; the message names the file and the reason."""


@dataclass
class Frames:
    """Decoded RGB frames (T, H, W, 3 uint8) with the metadata processors need for timestamps and fps."""
    array: np.ndarray
    fps: float
    total_num_frames: int
    frames_indices: list[int]
    duration_s: float

    def metadata(self) -> dict:
        t, h, w = self.array.shape[:3]
        return {"fps": self.fps, "total_num_frames": self.total_num_frames, "frames_indices": self.frames_indices,
                "width": w, "height": h, "duration": self.duration_s}


@dataclass
class Example:
    """One VideoKR example, with its video path resolved."""
    problem_id: str
    problem_type: str
    question: str
    options: list[str]
    solution: str
    video_path: str
    think: str | None = None
    extra: dict = field(default_factory=dict)


def load_jsonl(path: str | Path) -> list[Example]:
    """Read a VideoKR JSONL export; relative video paths resolve against the file's folder."""
    path = Path(path)
    out = []
    for n, line in enumerate(path.read_text().splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            out.append(example_from_row(row, base=path.parent))
        except (json.JSONDecodeError, KeyError) as exc:
            raise ValueError(f"{path}:{n}: not a VideoKR record ({type(exc).__name__}: {exc})") from exc
    return out


def example_from_row(row: dict, base: Path | None = None) -> Example:
    known = {"problem_id", "problem_type", "question", "options", "solution", "video_path", "think"}
    video = Path(row["video_path"])
    if base is not None and not video.is_absolute():
        video = base / video
    return Example(problem_id=str(row["problem_id"]), problem_type=row["problem_type"], question=row["question"],
                   options=list(row.get("options") or []), solution=row["solution"], video_path=str(video),
                   think=row.get("think"), extra={k: v for k, v in row.items() if k not in known})


def prompt_text(ex: Example) -> str:
    """The user text after the video: the export's own instruction format (jobs.instruction), so a model trained
    here sees exactly the prompts of the LLaMA-Factory / verl / TRL exports."""
    return export_prompt.prompt_text(ex.question, ex.problem_type, ex.options)


def prompt_messages(ex: Example) -> list[dict]:
    return [{"role": "user", "content": [{"type": "video"}, {"type": "text", "text": prompt_text(ex)}]}]


def target_text(ex: Example) -> str:
    """The SFT response: `<think>rationale</think><answer>X</answer>` (format reward 1), as in the exports."""
    return export_prompt.response(ex.think or "", extract_answer_text(ex.solution))


def vision_geometry(processor) -> tuple[int, int]:
    """(spatial factor = patch * merge, temporal patch) of a processor's video processor (Qwen defaults)."""
    vp = getattr(processor, "video_processor", None)
    patch = getattr(vp, "patch_size", 14) or 14
    merge = getattr(vp, "merge_size", 2) or 2
    return int(patch * merge), int(getattr(vp, "temporal_patch_size", 2) or 2)


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


def _open(path: str):
    import av
    if not Path(path).is_file():
        raise VideoDecodeError(f"{path}: video file not found")
    try:
        container = av.open(path)
        stream = container.streams.video[0]
    except (av.FFmpegError, IndexError, OSError) as exc:
        raise VideoDecodeError(f"{path}: cannot open video ({type(exc).__name__}: {exc})") from exc
    return container, stream


def decode_frames(path: str, n_frames: int = MAX_FRAMES, factor: int = 28, temporal_patch: int = 2,
                  max_video_tokens: int = MAX_VIDEO_TOKENS) -> Frames:
    """`n_frames` (<= MAX_FRAMES) RGB frames uniformly over the video, resized to the token budget."""
    import av
    n_frames = max(1, min(int(n_frames), MAX_FRAMES))
    container, stream = _open(path)
    try:
        fps = float(stream.average_rate or stream.guessed_rate or 25.0)
        tb = float(stream.time_base)
        duration = (stream.duration * tb) if stream.duration else (container.duration or 0) / 1e6
        if duration <= 0 and stream.frames:
            duration = stream.frames / fps
        targets = [duration * (i + 0.5) / n_frames for i in range(n_frames)]
        h0, w0 = stream.codec_context.height, stream.codec_context.width
        n_stream = int(stream.frames or 0)  # read while open: PyAV >= 19 refuses stream access after close
        h, w = frame_size(h0, w0, n_frames, factor, temporal_patch, max_video_tokens)
        stream.thread_type = "AUTO"
        picked: list[tuple[float, np.ndarray]] = []
        if duration > SEEK_ABOVE_S:
            for t in targets:
                container.seek(int(t / tb), stream=stream, backward=True)
                for frame in container.decode(stream):
                    if frame.time is not None and frame.time + 0.5 / fps >= t:
                        picked.append((frame.time, frame.to_ndarray(format="rgb24", width=w, height=h)))
                        break
        else:
            i = 0
            last = None
            for frame in container.decode(stream):
                ft = frame.time or 0.0
                last = frame
                while i < len(targets) and ft + 0.5 / fps >= targets[i]:
                    picked.append((ft, frame.to_ndarray(format="rgb24", width=w, height=h)))
                    i += 1
                if i >= len(targets):
                    break
            while last is not None and i < len(targets):  # duration overestimated: repeat the last frame
                picked.append((last.time or 0.0, last.to_ndarray(format="rgb24", width=w, height=h)))
                i += 1
    except av.FFmpegError as exc:
        raise VideoDecodeError(f"{path}: decode failed ({type(exc).__name__}: {exc})") from exc
    finally:
        container.close()
    if not picked:
        raise VideoDecodeError(f"{path}: no decodable frames")
    total = n_stream or max(1, round(duration * fps))
    indices = [min(total - 1, int(round(t * fps))) for t, _ in picked]
    return Frames(np.stack([a for _, a in picked]), fps, total, indices, float(duration))


def frames_for(processor, path: str, n_frames: int = MAX_FRAMES, max_video_tokens: int = MAX_VIDEO_TOKENS) -> Frames:
    """Frames for `processor`'s geometry. Repeated calls for an unchanged file return the same decoded frames (shared:
    do not modify them), so epochs and the several questions of a video decode it once per process."""
    factor, tp = vision_geometry(processor)
    try:
        stamp = Path(path).stat().st_mtime_ns
    except OSError:
        return decode_frames(path, n_frames, factor, tp, max_video_tokens)  # raises VideoDecodeError
    return _decode_cached(str(path), stamp, n_frames, factor, tp, max_video_tokens)


@lru_cache(maxsize=FRAME_CACHE_SIZE)
def _decode_cached(path: str, stamp: int, n_frames: int, factor: int, tp: int, max_video_tokens: int) -> Frames:
    return decode_frames(path, n_frames, factor, tp, max_video_tokens)


def video_inputs(processor, texts: list[str], frames: list[Frames]) -> dict:
    """Run the processor on chat-templated texts and our frames, with no further resizing or frame sampling."""
    return processor(text=texts, videos=[f.array for f in frames], video_metadata=[f.metadata() for f in frames],
                     do_resize=False, do_sample_frames=False, padding=True, return_tensors="pt")


def extract_answer_text(solution: str) -> str:
    """The answer inside `<answer>` tags of a solution, or the stripped solution when untagged."""
    start, end = solution.find("<answer>"), solution.find("</answer>")
    return solution[start + 8:end].strip() if 0 <= start < end else solution.strip()
