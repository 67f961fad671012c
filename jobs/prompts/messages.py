"""Chat messages for the QA stages: instructions from the versioned prompt files, video frames as image parts
(from jobs.media.model_frames, never decoded here), and text from the video page (title, description, captions)
quoted as untrusted data, never as instructions.
"""
from __future__ import annotations

import logging

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
