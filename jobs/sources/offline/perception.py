"""What the offline stand-in can know from a request: the scene facts seen through its frames, and its page text.

This is the stand-in's only access to the video. Rules (the module docstring of offline_model.py says why):
- seen through the frames: at least `frames_needed` of the request's `frame_times` fall inside one of the fact's
  `evidence` intervals (2 by default: a change over time needs two looks; 1 for a state shown on screen);
- read from the text: the fact's answer (normalised, as a whole phrase) occurs in the page text the request quotes
  (title, description, captions; never the question block, whose options would always contain it).
Nothing here reads a plant record (`flaw`).
"""
from __future__ import annotations

import re
from typing import Any, Iterable

EPS = 1e-6
_PAGE = re.compile(r"Video (?:title|description|captions) \(UNTRUSTED DATA[^\n]*\n```untrusted-data\n(.*?)\n```", re.S)
_CUE_TIME = re.compile(r"^\[\d+(?:\.\d+)?s\]\s*", re.M)


def norm(text: str) -> str:
    """Lower-case, punctuation-free, single-spaced text (how the stand-in compares strings)."""
    return " ".join(re.sub(r"[^0-9a-z]+", " ", str(text).lower()).split())


def frames_inside(fact: dict, times: Iterable[float]) -> int:
    """How many of the instants fall inside the fact's evidence intervals."""
    ev = fact.get("evidence") or []
    return sum(any(a - EPS <= float(t) <= b + EPS for a, b in ev) for t in times)


def seen(fact: dict, times: Iterable[float]) -> bool:
    """Whether frames at these instants show the fact (see the module docstring)."""
    return frames_inside(fact, list(times or [])) >= int(fact.get("frames_needed") or 2)


def evidence_time(fact: dict, times: Iterable[float]) -> float | None:
    """The first instant (of these) at which the fact's evidence is on screen: where the generator saw it."""
    ev = fact.get("evidence") or []
    inside = [float(t) for t in times or [] if any(a - EPS <= float(t) <= b + EPS for a, b in ev)]
    return round(min(inside), 3) if inside else None


def page_text(messages: list[dict] | None) -> str:
    """The page text quoted in the request (title, description, captions without cue times), normalised."""
    chunks: list[str] = []
    for m in messages or []:
        content = m.get("content")
        parts = [content] if isinstance(content, str) else [p.get("text", "") for p in content or []
                                                             if isinstance(p, dict) and p.get("type") == "text"]
        for text in parts:
            chunks += [_CUE_TIME.sub("", body) for body in _PAGE.findall(text or "")]
    return norm("\n".join(chunks))


def in_text(answer: str, page: str) -> bool:
    """Whether the normalised answer occurs in the normalised page text as a whole phrase."""
    a = norm(answer)
    return bool(a) and f" {a} " in f" {page} "


def world_knowledge(scenes: Iterable[dict], bank: dict | None = None) -> set[str]:
    """Normalised standard-knowledge statements: knowledge-basis steps of every fact of the world, and the
    statements of the knowledge bank (when given)."""
    out = {norm(st["text"]) for s in scenes for f in (s or {}).get("facts", []) for st in f.get("steps", [])
           if st.get("basis") == "knowledge"}
    for d in (bank or {}).get("disciplines", []):
        for s in d.get("subjects", []):
            for c in s.get("courses", []):
                for lec in c.get("lectures", []):
                    out |= {norm(k.get("statement", "")) for k in lec.get("knowledge_points", [])
                            if k.get("statement")}
    out.discard("")
    return out


def all_scenes(library: Any) -> list[dict]:
    """Every scene record of a library (Library, dict video_id -> scene, or list of scenes)."""
    if library is None:
        return []
    if isinstance(library, dict):
        return list(library.values())
    if isinstance(library, (list, tuple)):
        return list(library)
    return [getattr(it, "scene", None) or {} for it in getattr(library, "items", [])]
