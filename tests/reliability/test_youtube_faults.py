"""30% injected faults on the YouTube Data API (google-api-python-client, httplib2 sockets, a loopback server).

collect completes; every HTTP attempt is in `api_usage`; failed queries and detail batches are quarantined with a
reason; a rerun sends no request that was answered successfully; units stay within the daily budget, retries
included. The client's own transport is real: only the host it connects to is the loopback server.
"""
from __future__ import annotations

import hashlib
import json
from urllib.parse import parse_qs, urlsplit

import httplib2
import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from tests.reliability.faults import Faults
from tests.reliability.table import check, scale
from tests.youtube_fakes import video_item

KEY = "AIzaSy-reliability-sentinel-key"
SEED = 4242


class LoopbackHttp(httplib2.Http):
    """httplib2 with a short timeout whose requests for googleapis.com go to the loopback server instead."""

    def __init__(self, base: str, timeout: float):
        super().__init__(timeout=timeout)
        self.base = base.rstrip("/")

    def request(self, uri, *a, **kw):
        parts = urlsplit(uri)
        return super().request(self.base + parts.path + ("?" + parts.query if parts.query else ""), *a, **kw)


def ids_for(q: str) -> list[str]:
    """Three stable 11-character ids per query (the far end's 'index')."""
    return [hashlib.sha256(f"{q}/{i}".encode()).hexdigest()[:11] for i in range(3)]


def good(request: Request) -> Response:
    qs = {k: v[0] for k, v in parse_qs(request.query_string.decode()).items()}
    if request.path.endswith("/search"):
        body = {"items": [{"id": {"kind": "youtube#video", "videoId": v}} for v in ids_for(qs["q"])]}
    else:
        ids = qs["id"].split(",")
        body = {"items": [video_item(v, license="youtube" if v[0] in "01" else "creativeCommon",
                                     duration="PT45M" if v[0] == "2" else "PT9M") for v in ids]}
    return Response(json.dumps(body), 200, content_type="application/json")


@pytest.fixture
def youtube(wh):
    server = HTTPServer(threaded=True)
    server.start()
    faults = Faults(SEED, rate=0.3, hang_s=1.2, retry_after="0")
    handler = faults.wrap(good)
    for path in ("/youtube/v3/search", "/youtube/v3/videos"):
        server.expect_request(path, method="GET").respond_with_handler(handler)
    yield server.url_for("/"), faults
    server.clear()
    server.stop()


def collect_once(settings, base: str, budget: int) -> dict:
    from jobs import collect
    from jobs.sources.youtube import YouTubeSearch
    src = YouTubeSearch(KEY, {"retries": 1, "backoff_s": 0}, http=LoopbackHttp(base, timeout=0.6),
                        sleep=lambda s: None)
    return collect.run(settings, ["physics"], {"daily_budget": budget, "max_pages": 1, "keywords_per_kp": 1},
                       source=src)


def test_youtube_30pct_faults_collect(settings, wh, youtube):
    base, faults = youtube
    n_kps = scale(16, 80)
    budget = 100 * n_kps - 250          # the budget runs out before every query is made: retries must respect it
    wh.write("knowledge_points", [{"kp_id": f"kp-{i:03d}", "lecture_id": "l", "course_id": "c", "subject_id": "physics",
                                   "discipline_id": "ns", "name": f"Point {i}", "statement": "s",
                                   "keywords": [f"keyword {i}"], "position": i} for i in range(n_kps)], "seed")
    s1 = collect_once(settings, base, budget)
    served = len(faults.log)
    rows = {r["status"]: r["n"] for r in wh.query("SELECT status, count(*) n FROM api_usage GROUP BY 1").to_dicts()}
    runs = wh.query("SELECT status FROM runs WHERE stage = 'collect'").rows()
    check("YouTube 30% faults: run completes", "collect run 'success'", runs, runs == [("success",)])
    check("YouTube 30% faults: every attempt in api_usage", f"{served} rows (one per HTTP request)", rows,
          sum(rows.values()) == served and served > n_kps)
    failed_q = set(wh.query("SELECT query_id FROM search_queries WHERE status = 'failed'")["query_id"].to_list())
    quarantined = wh.query("SELECT item, reason, detail FROM quarantine").to_dicts()
    q_items = {r["item"] for r in quarantined if r["reason"] == "search_failed"}
    undetailed = set(wh.query("SELECT video_id FROM search_hits EXCEPT SELECT video_id FROM videos")["video_id"]
                     .to_list())
    d_items = {r["item"] for r in quarantined if r["reason"] == "details_failed"}
    check("YouTube 30% faults: failed items quarantined", "each failed query / detail batch has a quarantine row "
          "with a reason", f"{len(failed_q)} failed queries, {len(q_items)} quarantined; {len(undetailed)} undetailed "
          f"ids, {len(d_items & undetailed)} quarantined", failed_q == q_items and undetailed <= d_items
          and len(failed_q) + len(undetailed) > 0 and all(r["detail"] for r in quarantined))

    ok_before = faults.ok_requests()
    s2 = collect_once(settings, base, budget)
    rerun = faults.log[served:]
    repeated = [h for k, h in rerun if h in ok_before]
    check("YouTube rerun: no successful call repeated", "0 rerun requests answered OK before",
          f"{len(rerun)} rerun requests, {len(repeated)} repeated", not repeated)
    used = wh.query("SELECT sum(units) FROM api_usage").item()
    check("YouTube quota within budget (retries included)", f"units today <= {budget}; stopped at budget",
          f"{used} units; stops {s1['stopped']}, {s2['stopped']}",
          used <= budget and "budget" in (s1["stopped"], s2["stopped"]) and sum(
              r["n"] for r in wh.query("SELECT count(*) n FROM api_usage").to_dicts()) == len(faults.log))
