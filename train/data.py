"""VideoKR JSONL records, prompts, and the video frames a model trains and is evaluated on.

Records (the released VideoKR shape, as `videokr export` writes it): problem_id, problem, data_type, problem_type
("multiple choice" | "open-ended"), options (["A. ...", ...]), process ("<think>...</think>", SFT file only), solution
("<answer>B</answer>"), path (absolute, or relative to the JSONL file), data_source; the older names question, think
and video_path are read too (`from_release`). Plus frame_budget and frame_timestamps (the instants the pipeline's
checks saw). Frames come from jobs.media.model_frames (the one path every model's frames take): at most
`MAX_FRAMES`, resized so the whole video costs at most `MAX_VIDEO_TOKENS` visual tokens for the model's patch/merge
sizes (the paper: 128 frames, 4,096 video tokens), so the processor never resizes or resamples again.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from jobs.media.model_frames import (CACHE_VIDEOS, MAX_FRAMES, MAX_VIDEO_TOKENS, Budget, ModelFrames, VideoError,
                                      load_cached)
from jobs.prompts import instruction as export_prompt

FRAME_CACHE_SIZE = CACHE_VIDEOS  # decoded videos kept per process by frames_for
VideoDecodeError = VideoError     # a video that cannot be opened or holds no decodable frames (names file and reason)
Frames = ModelFrames


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


def from_release(row: dict) -> dict:
    """A row in this module's names: the release's Video-R1 names (`problem`, `path`, `process` with its think tags)
    map to `question`, `video_path` and a bare `think`; rows already in these names pass unchanged."""
    if "path" not in row and "problem" not in row and "process" not in row:
        return row
    out = {k: v for k, v in row.items() if k not in ("problem", "path", "process", "data_type", "data_source")}
    out.setdefault("question", row.get("problem"))
    out.setdefault("video_path", row.get("path"))
    if row.get("process") is not None and "think" not in row:
        m = re.fullmatch(r"\s*<think>(.*)</think>\s*", row["process"], re.DOTALL)
        out["think"] = m.group(1) if m else row["process"]
    return out


def example_from_row(row: dict, base: Path | None = None) -> Example:
    row = from_release(row)
    known = {"problem_id", "problem_type", "question", "options", "solution", "video_path", "think"}
    video = Path(row["video_path"])
    if base is not None and not video.is_absolute():
        video = base / video
    return Example(problem_id=str(row["problem_id"]), problem_type=row["problem_type"], question=row["question"],
                   options=list(row.get("options") or []), solution=row["solution"], video_path=str(video),
                   think=row.get("think"), extra={k: v for k, v in row.items() if k not in known})


def prompt_text(ex: Example) -> str:
    """The user text after the video: the export's own instruction format (jobs.prompts.instruction), so a model trained
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


def frames_for(processor, path: str, n_frames: int = MAX_FRAMES, max_video_tokens: int = MAX_VIDEO_TOKENS,
               stamps: list[float] | None = None) -> ModelFrames:
    """The model frames (jobs.media.model_frames) of `path` for `processor`'s geometry and this frame and token
    budget, at `stamps` when the export row carries them. Repeated calls for an unchanged file return the same
    decoded frames (shared: do not modify them), so epochs and the several questions of a video decode it once."""
    factor, tp = vision_geometry(processor)
    budget = Budget(frames=max(1, min(int(n_frames), MAX_FRAMES)), max_video_tokens=max_video_tokens, factor=factor,
                    temporal_patch=tp)
    return load_cached(path, budget, stamps)


def example_stamps(ex: "Example", n_frames: int) -> list[float] | None:
    """The frame instants an export row carries for this frame budget (`frame_budget`, `frame_timestamps`)."""
    stamps = ex.extra.get("frame_timestamps")
    return list(stamps) if stamps and int(ex.extra.get("frame_budget") or 0) == int(n_frames) else None


def video_inputs(processor, texts: list[str], frames: list[Frames]) -> dict:
    """Run the processor on chat-templated texts and our frames, with no further resizing or frame sampling."""
    return processor(text=texts, videos=[f.array for f in frames], video_metadata=[f.metadata() for f in frames],
                     do_resize=False, do_sample_frames=False, padding=True, return_tensors="pt")


def extract_answer_text(solution: str) -> str:
    """The answer inside `<answer>` tags of a solution, or the stripped solution when untagged."""
    start, end = solution.find("<answer>"), solution.find("</answer>")
    return solution[start + 8:end].strip() if 0 <= start < end else solution.strip()
