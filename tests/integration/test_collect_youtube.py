"""collect against a real warehouse and the real YouTube client, far end replaced by HttpMockSequence:
budget stop, quotaExceeded stop, resume without repeating queries, paging resume, eligibility reasons, no duplicates."""
from __future__ import annotations

import json


from jobs import collect
from tests.youtube_fakes import Recording, ok, search_page, video_item
from jobs.sources.quota import format_today, today, units_per_kept_video
from jobs.sources.youtube import YouTubeSearch, key_fingerprint

KEY = "AIzaSy-integration-secret"


page = search_page


TITLES = {"a": "Simple pendulum period experiment", "b": "Bubble sort in one animation", "e": "Bubble sort explained"}


def item(vid, license="creativeCommon", duration="PT10M", caption="true"):
    return video_item(vid, license, duration, caption, title=TITLES.get(vid[0], vid), channel="Chan",
                      channel_id="UC1")


def details(*items):
    return ok({"items": list(items)})


QUOTA = ({"status": "403"}, json.dumps({"error": {"code": 403, "errors": [{"reason": "quotaExceeded"}]}}))
A, B, C, D, E = (c * 11 for c in "abcde")


NAMES = ["Period of a simple pendulum", "Ohm's law", "Bubble sort"]


def seed_kps(wh, n=3):
    rows = [{"kp_id": f"kp-{i}", "lecture_id": "l", "course_id": "c", "subject_id": "physics", "discipline_id": "ns",
             "name": NAMES[i], "statement": "s", "keywords": [f"keyword {i}"], "position": i} for i in range(n)]
    wh.write("knowledge_points", rows, "seed")


def run(settings, seq, **params):
    http = Recording(seq)
    src = YouTubeSearch(KEY, {"retries": 1, "backoff_s": 0}, http=http, sleep=lambda s: None)
    return collect.run(settings, ["physics"], params, source=src), http


def test_budget_stop_quota_stop_and_resume(settings, wh):
    seed_kps(wh)
    s1, h1 = run(settings, [page([A, B]), details(item(A), item(B, license="youtube")),
                            page([C, D]), details(item(C, duration="PT31M"), item(D, caption="false"))],
                 daily_budget=250)
    assert s1["stopped"] == "budget" and s1["units_used_today"] == 202 and len(h1.uris) == 4
    v = {r["video_id"]: r for r in wh.query("SELECT * FROM videos").to_dicts()}
    assert v[A]["eligible"] and v[A]["channel_url"] == "https://www.youtube.com/channel/UC1"
    assert (v[B]["reject_reason"], v[C]["reject_reason"], v[D]["reject_reason"]) == ("license", "duration", "captions")
    assert v[C]["kp_id"] == "kp-1" and v[C]["duration_s"] == 1860
    q = wh.query("SELECT kp_id, status FROM search_queries ORDER BY kp_id").rows()
    assert q == [("kp-0", "done"), ("kp-1", "done")]
    usage = wh.query("SELECT key_fingerprint, method, sum(units) u FROM api_usage GROUP BY ALL ORDER BY method").rows()
    assert usage == [(key_fingerprint(KEY), "search.list", 200), (key_fingerprint(KEY), "videos.list", 2)]
    assert KEY not in json.dumps(wh.query("SELECT * FROM api_usage").to_dicts(), default=str)

    # YouTube says quotaExceeded: stop cleanly; the finished queries are not asked again
    s2, h2 = run(settings, [QUOTA])
    assert s2["stopped"] == "quota_exceeded" and h2.params()[0][1]["q"] == ["keyword 2"] and len(h2.uris) == 1
    assert wh.query("SELECT count(*) FROM api_usage WHERE status = 'quota_exceeded'").item() == 1

    # next day (or more budget): only kp-2 is searched; A and B are already known, so only E is detailed
    s3, h3 = run(settings, [page([A, B, E]), details(item(E))])
    assert s3["stopped"] is None and s3["skipped_done_queries"] == 2
    (m1, p1), (m2, p2) = h3.params()
    assert m1 == "search" and p1["q"] == ["keyword 2"] and p1["videoLicense"] == ["creativeCommon"]
    assert m2 == "videos" and p2["id"] == [E] and p2["part"] == ["snippet,contentDetails,status"]
    owner = dict(wh.query("SELECT video_id, kp_id FROM videos").rows())
    # found by several KPs: each video goes to the one it fits (pendulum stays, the bubble-sort video moves)
    assert (owner[A], owner[B], owner[E]) == ("kp-0", "kp-2", "kp-2") and s3["counts"]["owners_changed"] == 1
    assert wh.query("SELECT count(*) FROM search_hits WHERE kp_id = 'kp-2'").item() == 3

    # a rerun with nothing left to do calls nothing and writes nothing
    before = {t: wh.query(f"SELECT count(*) FROM {t}").item() for t in ("videos", "search_hits", "search_queries")}
    s4, h4 = run(settings, [])
    assert h4.uris == [] and s4["rows"].get("videos", 0) == 0
    assert s3["counts"]["owners_decided"] >= 2 and s4["counts"]["owners_decided"] == 0   # unchanged: not re-embedded
    assert before == {t: wh.query(f"SELECT count(*) FROM {t}").item() for t in before}

    rows = today(settings)
    assert {r["method"]: r["units"] for r in rows} == {"search.list": 400, "videos.list": 3}
    assert "search.list" in format_today(settings)
    assert units_per_kept_video(settings)["units"] == 403


def test_partial_query_resumes_from_page_token(settings, wh):
    seed_kps(wh, 1)
    s1, _ = run(settings, [page([A], "TOK2"), details(item(A))], max_pages=2, daily_budget=150)
    assert s1["stopped"] == "budget"
    q = wh.query("SELECT status, pages_fetched, next_page_token, hits FROM search_queries").rows()
    assert q == [("partial", 1, "TOK2", 1)]
    s2, h2 = run(settings, [page([B]), details(item(B))], max_pages=2)
    assert h2.params()[0][1]["pageToken"] == ["TOK2"]
    q = wh.query("SELECT status, pages_fetched, next_page_token, hits FROM search_queries").rows()
    assert q == [("done", 2, None, 2)]
    assert wh.query("SELECT rank, video_id FROM search_hits ORDER BY rank").rows() == [(0, A), (1, B)]


def test_quota_report_uses_each_sources_budget(settings, wh):
    from jobs.sources.quota import DEFAULT_BUDGET, SAMPLE_DAILY_BUDGET, QuotaLedger, quota_config

    class Run:  # what QuotaLedger.flush needs of a stage run
        def write(self, table, rows, append=False):
            wh.write(table, rows, "test-run", append=append)
    for source in ("youtube", "sample"):
        ledger = QuotaLedger(wh, source, source, quota_config(settings, source))
        ledger.record("search.list")
        ledger.flush(Run())
    got = {r["source"]: (r["budget"], r["left"]) for r in today(settings)}
    assert got == {"youtube": (DEFAULT_BUDGET, DEFAULT_BUDGET - 100), "sample": (SAMPLE_DAILY_BUDGET,
                                                                                SAMPLE_DAILY_BUDGET - 100)}


def test_malformed_200_bodies_are_retried_ledgered_and_never_kill_the_run(settings, wh):
    """A 200 whose body is not JSON (or not an object) is a failed, charged attempt: retried, then the query is
    quarantined; every attempt is in api_usage and the run completes."""
    seed_kps(wh, 2)
    garbage = ({"status": "200"}, "<html>upstream hiccup")
    not_object = ({"status": "200"}, json.dumps(["not", "an", "object"]))
    s, h = run(settings, [garbage, not_object,                          # query 0: both attempts malformed
                          garbage, page([A]), details(item(A))])        # query 1: retried, then fine
    assert s["counts"]["queries_failed"] == 1 and s["counts"]["queries_done"] == 1
    q = wh.query("SELECT item, reason, detail FROM quarantine").to_dicts()
    assert [r["reason"] for r in q] == ["search_failed"] and "malformed reply" in q[0]["detail"]
    usage = wh.query("SELECT method, status FROM api_usage ORDER BY called_at").rows()
    assert [st for _, st in usage] == ["malformed", "malformed", "malformed", "ok", "ok"] and len(h.uris) == 5


def test_retries_stop_at_the_daily_budget(settings, wh):
    """A retry is a charged call: it is not made when it would pass the budget; the run stops as at the budget."""
    seed_kps(wh, 1)
    s, h = run(settings, [({"status": "503"}, "{}"), page([A])], daily_budget=150)
    assert s["stopped"] == "budget" and len(h.uris) == 1 and s["units_used_today"] == 100 <= s["budget"]


def test_ids_with_control_characters_are_refused():
    from jobs.sources import youtube, ytdlp
    for pattern in (youtube.VIDEO_ID_RE, ytdlp.VIDEO_ID_RE):
        assert pattern.match("abcdefghijk") and not pattern.match("abcdefghijk\n")
        assert not pattern.match("abcdefghij\n") and not pattern.match("abcdefghijk\x00")
