"""YouTube URL -> 11-character video id. Pure functions; they never raise.

`jobs.decontaminate.youtube_id` re-exports `youtube_id` (that name and signature are the contract).
"""
from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

_ID = re.compile(r"[A-Za-z0-9_-]{11}")
_HOSTS = {"youtube.com", "m.youtube.com", "music.youtube.com", "gaming.youtube.com",
          "youtube-nocookie.com", "youtu.be"}
_PATH_KINDS = {"embed", "shorts", "live", "v", "e", "watch"}   # /<kind>/<id>


def _id_prefix(value: str | None) -> str | None:
    """The 11-character id at the start of `value`.

    Longer values are cut to 11 (YouTube itself plays the 11-character prefix; the VideoMMMU files hold a few
    `watch?v=<id>a` typos). Fewer than 11 id characters: None.
    """
    if not value:
        return None
    m = _ID.match(value.strip())
    return m.group(0) if m else None


def youtube_id(url: str) -> str | None:
    """The video id of a YouTube URL, or None when `url` is not a YouTube video URL.

    Handles `watch?v=`, `watch?feature=...&v=`, `youtu.be/<id>`, `/embed/`, `/shorts/`, `/live/`, `/v/`,
    `m.`/`music.`/`www.` hosts, `youtube-nocookie.com`, missing scheme, extra parameters (`&t=`, `&list=`,
    `&index=`, `&ab_channel=`, `?si=`, `&pp=`), fragments, and leading or trailing spaces.
    """
    try:
        if not isinstance(url, str):
            return None
        s = url.strip()
        if not s:
            return None
        if "://" not in s:
            s = "https://" + s.lstrip("/")
        parts = urlsplit(s)
        if parts.scheme.lower() not in ("http", "https"):
            return None
        host = (parts.hostname or "").lower().rstrip(".")
        if host.startswith("www."):
            host = host[4:]
        if host not in _HOSTS:
            return None
        segs = [p for p in parts.path.split("/") if p]
        if host == "youtu.be":
            return _id_prefix(segs[0]) if segs else None
        if segs and segs[0] in ("watch", "watch_popup") or not segs:
            v = parse_qs(parts.query).get("v")
            if v:
                return _id_prefix(v[0])
        if len(segs) >= 2 and segs[0] in _PATH_KINDS:
            return _id_prefix(segs[1])
        return None
    except Exception:  # malformed URLs (bad IPv6 brackets, odd types): not a video URL
        return None


def youtube_ids(text: str) -> list[str]:
    """Every distinct id in `text`, which may hold several URLs run together (first one first)."""
    if not isinstance(text, str):
        return []
    out: list[str] = []
    for piece in re.split(r"(?=https?://)|\s+", text):
        vid = youtube_id(piece)
        if vid and vid not in out:
            out.append(vid)
    return out
