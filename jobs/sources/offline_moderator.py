"""Offline moderator: the embedded stand-in for Azure AI Content Safety (a stand-in, not a safety model).

Text: flagged when it contains a blocklisted term (word-boundary, case-insensitive); the default list holds a few
unambiguous terms and is extended or replaced by `[moderation] blocklist = [...]` in videokr.toml.
Images: it cannot look at pixels; a frame passes unless the caller's `context["scene"]` (the sample library's
scene record for the video) says `unsafe_frames: true`. Severities mimic Azure's scale (0..7) so thresholds apply
the same way.
"""
from __future__ import annotations

import re

from jobs.sources.base import ModerationResult

DEFAULT_BLOCKLIST = {
    "Violence": ["gore", "graphic violence", "beheading", "massacre footage", "snuff"],
    "Hate": ["racial slur", "hate speech", "white power", "ethnic cleansing now"],
    "Sexual": ["porn", "pornographic", "explicit sex", "nsfw", "xxx"],
    "SelfHarm": ["suicide method", "how to self-harm", "self-harm tutorial"],
}
SEVERITY = 6


class OfflineModerator:
    name = "offline"

    def __init__(self, config: dict | None = None):
        cfg = dict(config or {})
        terms = {c: list(t) for c, t in DEFAULT_BLOCKLIST.items()}
        extra = cfg.get("blocklist") or []
        if isinstance(extra, dict):
            for c, t in extra.items():
                terms.setdefault(c, []).extend(t)
        else:
            terms.setdefault("Blocklist", []).extend(extra)
        if cfg.get("replace_blocklist"):
            terms = {c: t for c, t in terms.items() if c == "Blocklist"}
        self.thresholds = {c: 4 for c in terms} | {k: int(v) for k, v in (cfg.get("thresholds") or {}).items()}
        self._res = {c: re.compile(r"\b(" + "|".join(re.escape(t) for t in ts) + r")\b", re.I)
                     for c, ts in terms.items() if ts}

    def _verdict(self, sev: dict[str, int], hits: list[str]) -> ModerationResult:
        over = {c: s for c, s in sev.items() if s >= self.thresholds.get(c, 4)}
        return ModerationResult(bool(over), sev, "; ".join(hits))

    def moderate_text(self, text: str) -> ModerationResult:
        sev, hits = {}, []
        for cat, rx in self._res.items():
            m = rx.search(text or "")
            sev[cat] = SEVERITY if m else 0
            if m:
                hits.append(f"{cat}: blocklisted term {m.group(0)!r}")
        return self._verdict(sev, hits)

    def moderate_image(self, jpeg: bytes, context: dict | None = None) -> ModerationResult:
        scene = (context or {}).get("scene") or {}
        unsafe = bool(scene.get("unsafe_frames"))
        return self._verdict({"Violence": SEVERITY if unsafe else 0},
                             ["scene record marks the frames unsafe"] if unsafe else [])
