"""Chat messages for the QA stages: instructions from the versioned prompt files, video frames as image parts,
and text from the video page (title, description, captions) quoted as untrusted data, never as instructions.
"""
from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from jobs.prompts import quote_untrusted

log = logging.getLogger("videokr.prompts")


def captions_text(cues: list[dict]) -> str:
    """Caption cues as '[12.0s] text' lines, in time order."""
    cues = sorted(cues, key=lambda c: (c.get("start_s") or 0.0, c.get("cue_index") or 0))
    return "\n".join(f"[{(c.get('start_s') or 0.0):.1f}s] {c.get('text') or ''}" for c in cues)


def page_data_blocks(title: str | None, description: str | None, captions: str | None,
                     max_chars: int = 6000) -> str:
    """The video page's text, each field in its own fenced, data-only block."""
    return "\n\n".join([quote_untrusted("Video title", title or "", 500),
                        quote_untrusted("Video description", description or "", 2000),
                        quote_untrusted("Video captions", captions or "", max_chars)])


def user_content(intro: str, image_parts: list[dict], data: str, ask: str) -> list[dict]:
    """OpenAI content parts: intro text, frames, the quoted data, then the request."""
    parts: list[dict] = [{"type": "text", "text": intro}]
    parts += image_parts
    if data:
        parts.append({"type": "text", "text": data})
    parts.append({"type": "text", "text": ask})
    return parts


def question_block(question: str, options: list[str] | None) -> str:
    """The question (and lettered options) to solve, quoted: generated text is data too."""
    body = question if not options else question + "\n" + "\n".join(options)
    kind = "multiple choice: answer with the letter" if options else "open-ended: answer briefly"
    return quote_untrusted(f"Question ({kind})", body, 8000)


def video_frames(path: str | Path, count: int) -> list[np.ndarray]:
    """`count` RGB frames evenly spread over the video: the frames stage's sampler (jobs.frames), else seeking."""
    try:
        from jobs.frames import sample_frames
    except ImportError:
        return _seek_frames(path, count)
    return [frame for _, frame in sample_frames(path, n=count)]


def _seek_frames(path: str | Path, count: int) -> list[np.ndarray]:
    import av
    frames: list[np.ndarray] = []
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        duration = float(stream.duration * stream.time_base) if stream.duration else (
            float(container.duration) / 1e6 if container.duration else 0.0)
        if duration <= 0:
            raise ValueError(f"{path}: unknown duration")
        times = [duration * (i + 0.5) / count for i in range(count)]
        for t in times:
            container.seek(int(t / stream.time_base), stream=stream, backward=True, any_frame=False)
            for frame in container.decode(stream):
                if frame.pts is None or float(frame.pts * stream.time_base) >= t - 1e-3:
                    frames.append(frame.to_ndarray(format="rgb24"))
                    break
    if not frames:
        raise ValueError(f"{path}: no decodable frames")
    return frames


def middle_frame(frames: list[np.ndarray]) -> list[np.ndarray]:
    """The ONE frame the blind solver sees."""
    return [frames[len(frames) // 2]] if frames else []
