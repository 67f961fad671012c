"""Offline SearchSource and Downloader over the sample library (stand-ins for YouTube search and yt-dlp).

Search: keyword match of the query's tokens against title (weight 3), tags (2) and description (1), light
stemming, stop words dropped. A video is a hit when it matches at least half of the query's tokens (so the
planted off-topic videos, which share words like "pendulum" or "sorting", are found too). Ranked by tokens
matched, then weight, then id; paged with opaque page tokens; 100 units a search, 1 a details call.

Filters, as YouTube's search.list applies them when asked:
    video_license  "creativeCommon" | "any"         (videoLicense)
    video_caption  "closedCaption" | "any"          (videoCaption)
    video_duration "any" | "short" | "medium" | "long"   (< 4 min, 4-20 min, > 20 min)
CHOICE: the defaults are "any" (unfiltered) for license and caption. YouTube itself, when asked for CC and
captioned videos, never returns the other kind, so the collect stage would never see, and so never record, the
planted non-CC and uncaptioned items. The sample source therefore returns them unless the filters are switched
on, and `details()` answers for every id in the library (as videos.list does for any public id); collect applies
its own license/caption/duration checks on the details and records each rejection with its reason. Pass
video_license="creativeCommon", video_caption="closedCaption" for YouTube's filtered behaviour.
"""
from __future__ import annotations

import base64
import hashlib
import json
import math
import re
import shutil
from pathlib import Path

from jobs.sources.base import Download, SearchPage

from .metadata import parse_iso_duration

STOP = {"a", "an", "and", "the", "of", "in", "on", "for", "to", "how", "what", "is", "with", "by", "vs", "explained",
        "lecture", "tutorial", "video", "part"}
SEARCH_UNITS, DETAILS_UNITS = 100, 1


def tokens(text: str) -> set[str]:
    out = set()
    for w in re.findall(r"[a-z0-9]+", text.lower().replace("'s", "")):
        if w in STOP:
            continue
        if len(w) > 5 and w.endswith("ing"):
            w = w[:-3]
        elif len(w) > 3 and w.endswith("s") and not w.endswith("ss"):
            w = w[:-1]
        out.add(w)
    return out


class SampleSearch:
    """SearchSource over a sample Library (see module doc for matching, filters and the unfiltered default)."""
    name = "sample"

    def __init__(self, library, video_license: str = "any", video_caption: str = "any",
                 video_duration: str = "any"):
        if video_license not in ("any", "creativeCommon", "youtube"):
            raise ValueError(f"video_license must be any|creativeCommon|youtube, got {video_license!r}")
        if video_caption not in ("any", "closedCaption", "none"):
            raise ValueError(f"video_caption must be any|closedCaption|none, got {video_caption!r}")
        if video_duration not in ("any", "short", "medium", "long"):
            raise ValueError(f"video_duration must be any|short|medium|long, got {video_duration!r}")
        self.library = library
        self.filters = {"license": video_license, "caption": video_caption, "duration": video_duration}
        self.calls: list[dict] = []
        self._docs = []
        for it in library.items:
            sn = it.metadata["snippet"]
            self._docs.append((it.video_id, tokens(sn["title"]), tokens(" ".join(sn.get("tags", []))),
                               tokens(sn["description"]), it.metadata))

    def _passes(self, meta: dict) -> bool:
        f = self.filters
        if f["license"] != "any" and meta["status"]["license"] != f["license"]:
            return False
        cap = meta["contentDetails"]["caption"] == "true"
        if (f["caption"] == "closedCaption" and not cap) or (f["caption"] == "none" and cap):
            return False
        if f["duration"] != "any":
            s = parse_iso_duration(meta["contentDetails"]["duration"])
            band = "short" if s < 240 else "medium" if s <= 1200 else "long"
            if band != f["duration"]:
                return False
        return True

    def ranked(self, query: str) -> list[str]:
        """All matching ids for `query`, best first (no paging, no units)."""
        q = tokens(query)
        if not q:
            return []
        need = math.ceil(len(q) / 2)
        hits = []
        for vid, title, tags, desc, meta in self._docs:
            matched = q & (title | tags | desc)
            if len(matched) < need or not self._passes(meta):
                continue
            weight = sum(3 * (w in title) + 2 * (w in tags) + (w in desc) for w in matched)
            hits.append((-len(matched), -weight, vid))
        return [vid for *_, vid in sorted(hits)]

    def search(self, query: str, page_token: str | None = None, max_results: int = 50) -> SearchPage:
        if not 0 <= max_results <= 50:
            raise ValueError(f"max_results must be 0..50, got {max_results}")
        qh = hashlib.sha256(query.strip().lower().encode()).hexdigest()[:8]
        offset = 0
        if page_token:
            try:
                tok = json.loads(base64.urlsafe_b64decode(page_token.encode()))
                offset = int(tok["o"])
            except (ValueError, KeyError, TypeError):
                raise ValueError(f"invalid page token {page_token!r}") from None
            if tok.get("q") != qh:
                raise ValueError(f"page token {page_token!r} belongs to another query")
        ids = self.ranked(query)
        page = ids[offset:offset + max_results]
        nxt = None
        if offset + max_results < len(ids):
            nxt = base64.urlsafe_b64encode(json.dumps({"q": qh, "o": offset + max_results}).encode()).decode()
        self.calls.append({"method": "search.list", "units": SEARCH_UNITS, "status": "ok"})
        return SearchPage(page, nxt, SEARCH_UNITS)

    def details(self, video_ids: list[str]) -> tuple[list[dict], int]:
        """videos.list items for known ids (unknown ids are left out, as YouTube does)."""
        if len(video_ids) > 50:
            raise ValueError(f"videos.list takes at most 50 ids, got {len(video_ids)}")
        if not video_ids:
            return [], 0
        items = []
        for vid in video_ids:
            try:
                items.append(json.loads(json.dumps(self.library.by_id(vid).metadata)))
            except KeyError:
                continue
        self.calls.append({"method": "videos.list", "units": DETAILS_UNITS, "status": "ok"})
        return items, DETAILS_UNITS

    def drain_calls(self) -> list[dict]:
        calls, self.calls = self.calls, []
        return calls


class SampleDownloader:
    """Downloader over a sample Library: copies <video_id>.mp4 and <video_id>.en.vtt into `out_dir`."""

    def __init__(self, library):
        self.library = library

    def download(self, video_id: str, out_dir: Path) -> Download:
        try:
            item = self.library.by_id(video_id)
        except KeyError:
            return Download(video_id, None, None, error=f"{video_id}: video unavailable (not in the sample library)")
        if item.mp4 is None or not Path(item.mp4).exists():
            return Download(video_id, None, None, error=f"{video_id}: video unavailable (no media file)")
        out_dir = Path(out_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
        mp4 = _copy(Path(item.mp4), out_dir / f"{video_id}.mp4")
        vtt = _copy(Path(item.vtt), out_dir / f"{video_id}.en.vtt") if item.vtt else None
        return Download(video_id, mp4, vtt)


def _copy(src: Path, dst: Path) -> Path:
    if not (dst.exists() and dst.stat().st_size == src.stat().st_size):
        tmp = dst.with_name(dst.name + ".part")
        shutil.copyfile(src, tmp)
        tmp.replace(dst)
    return dst
