"""YouTube Data API v3 search source (google-api-python-client), with retries and a per-call log for the quota ledger.

    src = YouTubeSearch(api_key)                     # or http=HttpMockSequence(...) in tests
    page = src.search("simple pendulum period")      # search.list, CC + closed captions + English, 50 per page
    items, units = src.details(page.video_ids)       # videos.list(part=snippet,contentDetails,status), <= 50 ids
    src.drain_calls()                                # [{"method", "units", "status"}] for every HTTP attempt

A 403 `quotaExceeded` (or `dailyLimitExceeded`) raises `QuotaExceeded`; 5xx, 429 and connection errors are retried
with exponential backoff. Every attempt, failed or not, is logged in `calls` and charged at the method's unit cost
(Google charges invalid requests too), so the ledger never under-counts. The key itself is never stored or logged:
only `key_fingerprint` (first 12 hex of its sha256).
"""
from __future__ import annotations

import hashlib
import http.client
import json
import logging
import re
import socket
import time
from datetime import datetime
from typing import Callable

from jobs.sources.base import SearchPage

log = logging.getLogger("videokr.youtube")

DEFAULT_UNITS = {"search.list": 100, "videos.list": 1}
DETAIL_PARTS = "snippet,contentDetails,status"
RETRY_STATUS = {429, 500, 502, 503, 504}
QUOTA_REASONS = {"quotaExceeded", "dailyLimitExceeded"}
VIDEO_ID_RE = re.compile(r"[A-Za-z0-9_-]{11}\Z")      # \Z, not $: "$" also matches before a trailing newline
_DURATION_RE = re.compile(r"^P(?:(\d+)W)?(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?)?$")


class _RedactKey(logging.Filter):
    """googleapiclient logs every request URL at DEBUG (and retried ones at WARNING), `key=` included: the key is
    masked in the record before any handler sees it."""
    _KEY = re.compile(r"([?&]key=)[^&\s\"']+")

    def filter(self, record: logging.LogRecord) -> bool:
        msg = record.getMessage()
        if "key=" in msg:
            record.msg, record.args = self._KEY.sub(r"\1<redacted>", msg), ()
        return True


for _name in ("googleapiclient.discovery", "googleapiclient.http"):
    logging.getLogger(_name).addFilter(_RedactKey())


class YouTubeError(RuntimeError):
    """A YouTube API call failed for good (after retries, or a non-retryable 4xx)."""


class QuotaExceeded(YouTubeError):
    """YouTube answered 403 quotaExceeded, or the local daily budget would be exceeded."""


class BudgetReached(YouTubeError):
    """A retry would take the day's use past the local budget: stop, as at the budget (a rerun continues)."""


def key_fingerprint(api_key: str) -> str:
    return hashlib.sha256(api_key.encode()).hexdigest()[:12]


def parse_duration(iso: str | None) -> float | None:
    """ISO 8601 duration as YouTube writes it (PT1H2M3S, P1DT2H, P0D) -> seconds; None if absent or malformed."""
    m = _DURATION_RE.match(iso or "")
    if not iso or not m:
        return None
    w, d, h, mi, s = (float(x) if x else 0.0 for x in m.groups())
    return (((w * 7 + d) * 24 + h) * 60 + mi) * 60 + s


def parse_time(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).replace(tzinfo=None)
    except ValueError:
        return None


def attribution(item: dict) -> dict:
    """Fields CC-BY attribution needs, plus the ones the collect filters read, from a videos.list item."""
    sn, cd, st = item.get("snippet", {}), item.get("contentDetails", {}), item.get("status", {})
    vid, ch = item.get("id", ""), sn.get("channelId", "")
    return {
        "video_id": vid, "title": sn.get("title", ""), "description": sn.get("description", ""),
        "channel_id": ch, "channel_title": sn.get("channelTitle", ""),
        "channel_url": f"https://www.youtube.com/channel/{ch}" if ch else None,
        "video_url": f"https://www.youtube.com/watch?v={vid}",
        "license": st.get("license"), "duration_s": parse_duration(cd.get("duration")),
        "has_captions": str(cd.get("caption", "")).lower() == "true",
        "published_at": parse_time(sn.get("publishedAt")), "privacy_status": st.get("privacyStatus"),
        "live": sn.get("liveBroadcastContent") not in (None, "none"),
    }


def _reason(exc) -> str:
    try:
        body = json.loads(exc.content.decode() if isinstance(exc.content, bytes) else exc.content)
        errs = body.get("error", {}).get("errors") or [{}]
        return errs[0].get("reason") or str(body.get("error", {}).get("status", ""))
    except (ValueError, AttributeError, TypeError):
        return ""


class YouTubeSearch:
    """SearchSource over the YouTube Data API v3. `config` is the `[youtube]` section of videokr.toml."""
    name = "youtube"

    def __init__(self, api_key: str, config: dict | None = None, http=None,
                 sleep: Callable[[float], None] = time.sleep):
        from googleapiclient.discovery import build

        if not api_key:
            raise YouTubeError("no YouTube API key: set VIDEOKR_YOUTUBE_API_KEY (or the youtube_api connection)")
        cfg = config or {}
        self.units = DEFAULT_UNITS | dict(cfg.get("units") or {})
        self.retries = int(cfg.get("retries", 5))
        self.backoff_s = float(cfg.get("backoff_s", 1.0))
        self.language = cfg.get("relevance_language", "en")
        self.key_fingerprint = key_fingerprint(api_key)
        self._sleep = sleep
        self.calls: list[dict] = []
        self.afford: Callable[[int], bool] = lambda units: True   # set by collect: may one more call be made?
        self._yt = build("youtube", "v3", developerKey=api_key, static_discovery=True, cache_discovery=False,
                         http=http)

    # ------------------------------------------------------------------ calls

    def _execute(self, method: str, request) -> dict:
        from googleapiclient.errors import HttpError
        from httplib2 import HttpLib2Error

        units = int(self.units.get(method, 1))
        for attempt in range(self.retries + 1):
            if attempt and not self.afford(units + sum(c["units"] for c in self.calls)):
                raise BudgetReached(f"{method}: a retry would pass the daily budget") from None
            try:
                resp = request.execute(num_retries=0)
                if not isinstance(resp, dict):        # a 200 whose body is not the API's JSON object
                    raise ValueError(f"reply is {type(resp).__name__}, not an object")
                self.calls.append({"method": method, "units": units, "status": "ok"})
                return resp
            except ValueError as exc:                 # malformed body (JSON decode, wrong shape): charged, retried
                self.calls.append({"method": method, "units": units, "status": "malformed"})
                if attempt == self.retries:
                    raise YouTubeError(f"{method}: malformed reply: {str(exc)[:200]}") from None
            except HttpError as exc:
                status, reason = int(exc.resp.status), _reason(exc)
                if status == 403 and reason in QUOTA_REASONS:
                    self.calls.append({"method": method, "units": units, "status": "quota_exceeded"})
                    raise QuotaExceeded(f"{method}: YouTube answered 403 {reason}") from None
                self.calls.append({"method": method, "units": units, "status": f"http_{status}"})
                if status not in RETRY_STATUS or attempt == self.retries:
                    raise YouTubeError(f"{method}: HTTP {status} {reason}".strip()) from None
            except (socket.timeout, ConnectionError, OSError, http.client.HTTPException, HttpLib2Error) as exc:
                # a dropped or truncated reply (IncompleteRead is an HTTPException, not an OSError): charged, retried
                self.calls.append({"method": method, "units": units, "status": "error"})
                if attempt == self.retries:
                    raise YouTubeError(f"{method}: {type(exc).__name__}: {exc}") from None
            delay = self.backoff_s * 2 ** attempt
            log.warning("%s: attempt %d failed (%s); retrying in %.1fs", method, attempt + 1,
                        self.calls[-1]["status"], delay)
            self._sleep(delay)
        raise AssertionError("unreachable")

    def drain_calls(self) -> list[dict]:
        calls, self.calls = self.calls, []
        return calls

    def search(self, query: str, page_token: str | None = None, max_results: int = 50) -> SearchPage:
        kw = dict(part="id", q=query, type="video", videoLicense="creativeCommon", videoCaption="closedCaption",
                  relevanceLanguage=self.language, maxResults=max_results)
        if page_token:
            kw["pageToken"] = page_token
        resp = self._execute("search.list", self._yt.search().list(**kw))
        ids = [it["id"]["videoId"] for it in resp.get("items", [])
               if isinstance(it.get("id"), dict) and it["id"].get("videoId")]
        return SearchPage(ids, resp.get("nextPageToken"), int(self.units["search.list"]))

    def details(self, video_ids: list[str]) -> tuple[list[dict], int]:
        if len(video_ids) > 50:
            raise ValueError(f"videos.list takes at most 50 ids, got {len(video_ids)}")
        if not video_ids:
            return [], 0
        resp = self._execute("videos.list", self._yt.videos().list(
            part=DETAIL_PARTS, id=",".join(video_ids), maxResults=50))
        return list(resp.get("items", [])), int(self.units["videos.list"])
