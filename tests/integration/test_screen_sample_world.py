"""collect + screen over the sample world (offline search, downloader, moderator, model; real warehouse, real MiniLM):
every planted collect:* and screen:* item is rejected for its expected reason, other found items are kept,
and a rerun writes nothing."""
from __future__ import annotations

import pytest

pytest.importorskip("jobs.sources.sample.library")

from jobs import collect, knowledge_bank, screen  # noqa: E402
from jobs.sources.sample.library import build_library  # noqa: E402

BIG_BUDGET = {"daily_budget": 10_000_000}


def _subjects(wh, lib) -> list[str]:
    kp_names = {it.scene["kp"]["name"] for it in lib.items if it.scene}
    df = wh.query("SELECT DISTINCT subject_id FROM knowledge_points WHERE name IN (SELECT unnest(?))",
                  [sorted(kp_names)])
    return sorted(df["subject_id"].to_list())


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    import os

    from videokr.settings import Settings
    from warehouse import Warehouse

    home = tmp_path_factory.mktemp("home")
    old = os.environ.get("VIDEOKR_HOME")
    os.environ["VIDEOKR_HOME"] = str(home)
    settings = Settings.load(search_source="sample", moderation_source="offline")
    lib = build_library(settings)
    knowledge_bank.run(settings)
    wh = Warehouse(settings)
    subjects = _subjects(wh, lib)
    c1 = collect.run(settings, subjects, dict(BIG_BUDGET))
    s1 = screen.run(settings, subjects, {})
    yield {"settings": settings, "lib": lib, "wh": wh, "subjects": subjects, "collect": c1, "screen": s1}
    wh.close()
    if old is None:
        os.environ.pop("VIDEOKR_HOME", None)
    else:
        os.environ["VIDEOKR_HOME"] = old


def test_planted_items_are_rejected_for_their_reason(world):
    wh, lib = world["wh"], world["lib"]
    videos = {r["video_id"]: r for r in wh.query("SELECT * FROM videos").to_dicts()}
    screening = {r["video_id"]: r for r in wh.query("SELECT * FROM screening").to_dicts()}
    checked = 0
    for m in lib.manifest:
        stage, _, reason = (m.get("expected_filter") or "").partition(":")
        vid = m["video_id"]
        if stage == "collect":
            assert vid in videos, f"{vid} ({m['kind']}) was never collected"
            assert videos[vid]["eligible"] is False and videos[vid]["reject_reason"] == reason, (m, videos[vid])
            assert vid not in screening
            checked += 1
        elif stage == "screen":
            assert vid in screening, f"{vid} ({m['kind']}) was not screened"
            row = screening[vid]
            assert row["decision"] == "reject" and reason in row["reasons"], (m, row)
            checked += 1
        elif vid in screening:
            assert screening[vid]["decision"] == "keep", (m, screening[vid])   # later stages' plants pass screen
    assert checked >= 6


def test_view_and_quota_figures(world):
    wh = world["wh"]
    view = wh.query("SELECT stage, decision, reason, sum(videos) n FROM v_screening_reasons GROUP BY ALL").to_dicts()
    got = {(r["stage"], r["decision"], r["reason"]): r["n"] for r in view}
    assert got.get(("screen", "keep", "kept"), 0) == wh.query(
        "SELECT count(*) FROM screening WHERE decision = 'keep'").item() > 0
    for reason in ("license", "duration", "captions"):
        assert got.get(("collect", "reject", reason), 0) >= 1
    units = wh.query("SELECT sum(units) FROM api_usage").item()
    assert units >= 100 * world["collect"]["counts"]["searches"]


def test_rerun_writes_no_duplicates(world):
    settings, wh, subjects = world["settings"], world["wh"], world["subjects"]
    tables = ("search_queries", "search_hits", "videos", "downloads", "captions", "screening", "screening_checks")
    before = {t: wh.query(f"SELECT count(*), count(DISTINCT run_id) FROM {t}").row(0) for t in tables}
    c2 = collect.run(settings, subjects, dict(BIG_BUDGET))
    s2 = screen.run(settings, subjects, {})
    assert c2["counts"]["searches"] == 0 and sum(c2["rows"].values()) == 0, c2
    assert sum(v for k, v in s2["rows"].items() if k != "runs") == 0, s2
    assert before == {t: wh.query(f"SELECT count(*), count(DISTINCT run_id) FROM {t}").row(0) for t in tables}
    dup = wh.query("SELECT video_id FROM screening GROUP BY video_id HAVING count(*) > 1")
    assert dup.height == 0


def test_a_failing_visual_judge_leaves_videos_pending_and_a_rerun_decides(world, monkeypatch):
    """Fail closed: a model error in visual relevance never keeps a video on text alone; it stays pending with
    the reason, and the next run (judge healthy again) retries and decides it."""
    from pytest_httpserver import HTTPServer
    settings, wh, subjects = world["settings"], world["wh"], world["subjects"]
    kept = wh.query("SELECT video_id FROM screening WHERE decision = 'keep' ORDER BY 1").to_series().to_list()[:3]
    assert kept
    wh.write("screening_checks", [], "test-reset", scope={"video_id": kept, "check_name": ["visual_relevance"]})
    server = HTTPServer(threaded=True)
    server.expect_request("/v1/chat/completions", method="POST").respond_with_data("down", status=500)
    server.start()
    monkeypatch.setenv("VIDEOKR_TEST_LLM_KEY", "sk-test-not-a-secret")
    saved = settings.extra.get("llm")
    settings.extra["llm"] = {"roles": {"relevance_judge": {
        "backend": "openai", "base_url": server.url_for("/v1"), "model": "judge-x", "api_key_env": "VIDEOKR_TEST_LLM_KEY",
        "max_retries": 0, "backoff_base_s": 0.01, "backoff_max_s": 0.02, "timeout_s": 5.0}}}
    settings.extra["review"] = {"require_approved_models": False}
    try:
        for phase in ("relevance", "decide"):
            out = screen.run(settings, subjects, {"phase": phase})
    finally:
        server.stop()
        settings.extra.pop("llm") if saved is None else settings.extra.update(llm=saved)
        settings.extra.pop("review", None)
    assert out["require_visual"] is True
    rows = {r["video_id"]: r for r in wh.query("SELECT * FROM screening WHERE video_id IN (SELECT unnest(?))",
                                               [kept]).to_dicts()}
    assert {r["decision"] for r in rows.values()} == {"pending"}
    assert all(r["reasons"] == ["visual_relevance_unchecked"] for r in rows.values())
    errors = wh.query("""SELECT count(*) FROM llm_calls WHERE role = 'relevance_judge' AND status = 'error'
                         AND model = 'judge-x'""").item()
    assert errors == len(kept)                                   # each failed call is on the ledger
    view = wh.query("SELECT sum(videos) FROM v_screening_reasons WHERE decision = 'pending'").item()
    assert view == len(kept)
    for phase in ("relevance", "decide"):                       # the judge is back (offline): retried, decided
        screen.run(settings, subjects, {"phase": phase})
    again = wh.query("SELECT decision FROM screening WHERE video_id IN (SELECT unnest(?))", [kept]).to_series()
    assert set(again.to_list()) == {"keep"}
