"""WebVTT captions -> `captions` rows (cue index, start, end, text).

Handles cue identifiers, cue settings, NOTE/STYLE/REGION blocks, inline tags (<c>, <i>, karaoke timestamps) and the
rolling duplicates of YouTube automatic captions (a cue repeating the previous cue's lines keeps only new lines).
"""
from __future__ import annotations

import html
import re

_TS = r"(?:(\d+):)?(\d{1,2}):(\d{2})[.,](\d{3})"
_TIMING = re.compile(rf"^\s*{_TS}\s*-->\s*{_TS}")
_TAG = re.compile(r"<[^>]*>")


class CaptionsError(ValueError):
    """The file is not WebVTT."""


def _seconds(h, m, s, ms) -> float:
    return int(h or 0) * 3600 + int(m) * 60 + int(s) + int(ms) / 1000


def parse_vtt(text: str) -> list[dict]:
    """Cues as dicts {cue_index, start_s, end_s, text}; raises CaptionsError when the header is missing."""
    text = text.lstrip("\ufeff")
    if not text.startswith("WEBVTT"):
        raise CaptionsError("not a WebVTT file (no WEBVTT header)")
    cues, prev_lines = [], []
    for block in re.split(r"\r?\n\s*\r?\n", text.replace("\r\n", "\n")):
        lines = [ln for ln in block.split("\n") if ln.strip()]
        at = next((i for i, ln in enumerate(lines) if "-->" in ln), None)
        if at is None:          # header, NOTE, STYLE and REGION blocks have no timing line
            continue
        m = _TIMING.match(lines[at])
        if not m:
            continue
        g = m.groups()
        start, end = _seconds(*g[:4]), _seconds(*g[4:])
        body = [html.unescape(_TAG.sub("", ln)).strip() for ln in lines[at + 1:]]
        body = [b for b in body if b]
        new = [b for b in body if b not in prev_lines]
        if body:
            prev_lines = body
        if not new or end - start < 0.02:
            continue
        cues.append({"cue_index": len(cues), "start_s": start, "end_s": end, "text": " ".join(new)})
    return cues


def captions_text(cues: list[dict]) -> str:
    return " ".join(c["text"] for c in cues)
