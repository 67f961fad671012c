"""YouTube source: the real google-api-python-client (static discovery) with the far end replaced by HttpMockSequence."""
from __future__ import annotations

from urllib.parse import parse_qs, urlparse

import pytest

from tests.youtube_fakes import Recording, err, ok, search_page, video_item
from jobs.sources.youtube import QuotaExceeded, YouTubeError, YouTubeSearch, attribution, parse_duration

KEY = "AIzaSy-secret-test-key"


def src(seq, sleeps=None):
    http = Recording(seq)
    s = YouTubeSearch(KEY, {"retries": 3, "backoff_s": 0.5}, http=http, sleep=(sleeps if sleeps is not None else []).append)
    return s, http


def test_search_pages_with_cc_caption_filters():
    s, http = src([search_page(["aaaaaaaaaaa", "bbbbbbbbbbb"], "TOK2"), search_page(["ccccccccccc"])])
    p1 = s.search("simple pendulum")
    p2 = s.search("simple pendulum", p1.next_page_token)
    assert p1.video_ids == ["aaaaaaaaaaa", "bbbbbbbbbbb"] and p1.next_page_token == "TOK2" and p1.units == 100
    assert p2.video_ids == ["ccccccccccc"] and p2.next_page_token is None
    q1, q2 = (parse_qs(urlparse(u).query) for u in http.uris)
    assert q1["videoLicense"] == ["creativeCommon"] and q1["videoCaption"] == ["closedCaption"]
    assert q1["type"] == ["video"] and q1["relevanceLanguage"] == ["en"] and q1["maxResults"] == ["50"]
    assert "pageToken" not in q1 and q2["pageToken"] == ["TOK2"]
    assert [c["status"] for c in s.drain_calls()] == ["ok", "ok"] and s.calls == []


def test_details_batch_and_attribution():
    s, http = src([ok({"items": [video_item("aaaaaaaaaaa"), video_item("bbbbbbbbbbb", "youtube", "PT1H")]})])
    items, units = s.details(["aaaaaaaaaaa", "bbbbbbbbbbb"])
    q = parse_qs(urlparse(http.uris[0]).query)
    assert q["part"] == ["snippet,contentDetails,status"] and q["id"] == ["aaaaaaaaaaa,bbbbbbbbbbb"] and units == 1
    a = attribution(items[0])
    assert a["channel_url"] == "https://www.youtube.com/channel/UCabc" and a["channel_title"] == "Prof X"
    assert a["license"] == "creativeCommon" and a["duration_s"] == 723 and a["has_captions"] is True
    assert attribution(items[1])["duration_s"] == 3600
    with pytest.raises(ValueError):
        s.details([f"{i:011d}" for i in range(51)])


def test_quota_exceeded_raises_and_is_logged():
    s, _ = src([err(403, "quotaExceeded")])
    with pytest.raises(QuotaExceeded):
        s.search("x")
    assert s.drain_calls() == [{"method": "search.list", "units": 100, "status": "quota_exceeded"}]


def test_5xx_is_retried_with_backoff_and_every_attempt_charged():
    sleeps = []
    s, _ = src([err(503, "backendError"), err(500, "backendError"), search_page(["aaaaaaaaaaa"])], sleeps)
    page = s.search("x")
    assert page.video_ids == ["aaaaaaaaaaa"]
    assert [c["status"] for c in s.calls] == ["http_503", "http_500", "ok"]
    assert sum(c["units"] for c in s.calls) == 300 and sleeps == [0.5, 1.0]


def test_5xx_gives_up_after_retries_and_other_4xx_do_not_retry():
    s, _ = src([err(503, "backendError")] * 4, [])
    with pytest.raises(YouTubeError, match="HTTP 503"):
        s.search("x")
    assert len(s.calls) == 4
    s2, _ = src([err(400, "invalidParameter")], [])
    with pytest.raises(YouTubeError) as ei:
        s2.search("x")
    assert len(s2.calls) == 1 and KEY not in str(ei.value)


def test_parse_duration():
    assert parse_duration("PT30M") == 1800 and parse_duration("PT30M1S") == 1801
    assert parse_duration("P1DT1S") == 86401 and parse_duration("P0D") == 0
    assert parse_duration("bogus") is None and parse_duration(None) is None
