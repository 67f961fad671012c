"""collect with model-proposed keywords: the real `openai` client against a loopback server (generator role) and
the real YouTube client against HttpMockSequence; a rerun pays nothing; a malformed reply is quarantined."""
from __future__ import annotations

import json

from jobs import collect
from jobs.sources.offline_model import OfflineModel
from jobs.sources.youtube import YouTubeSearch
from tests.integration.test_llm_layer import MODEL, FakeOpenAI, api_key, ok, server  # noqa: F401 (fixtures)
from tests.youtube_fakes import Recording, search_page

KP = {"kp_id": "kp-0", "lecture_id": "l", "course_id": "c", "subject_id": "physics", "discipline_id": "ns",
      "name": "Period of a simple pendulum", "statement": "T = 2π√(L/g) for small swings.",
      "keywords": ["pendulum period", "simple pendulum"], "position": 0}


def generator_settings(settings, base_url: str):
    settings.extra["llm"] = {"roles": {"generator": {
        "backend": "openai", "base_url": base_url, "model": MODEL, "api_key_env": "VIDEOKR_TEST_LLM_KEY",
        "backoff_base_s": 0.01, "backoff_max_s": 0.05, "timeout_s": 5.0}}}
    settings.extra["review"] = {"require_approved_models": False}   # a hand-picked model, said explicitly
    return settings


def collect_run(settings, n_searches: int):
    http = Recording([search_page([]) for _ in range(n_searches)])
    src = YouTubeSearch("AIzaSy-test", {"retries": 1, "backoff_s": 0}, http=http, sleep=lambda s: None)
    return collect.run(settings, ["physics"], {"keywords_per_kp": 1, "expand_keywords": True,
                                                "expand_keywords_max": 2}, source=src), http


def test_expanded_keywords_are_searched_once_and_cached(settings, wh, server):  # noqa: F811
    wh.write("knowledge_points", [KP], "seed")
    fake = FakeOpenAI(server)
    fake.default = lambda body: ok(json.dumps({"keywords": ["pendulum period", "  small angle  oscillation ",
                                                            "pendulum length and period", "x" * 200]}))
    s1, h1 = collect_run(generator_settings(settings, fake.base_url), 3)
    assert fake.calls == 1
    sent = json.loads(fake.bodies[0]["messages"][-1]["content"])   # the point travels as data, not instructions
    assert sent["knowledge_point"] == KP["name"] and sent["keywords"] == KP["keywords"]
    queried = sorted(wh.query("SELECT keyword FROM search_queries")["keyword"].to_list())
    # the bank's first keyword, then the proposals cleaned: repeats, extra spaces and over-long ones dropped
    assert queried == ["pendulum length and period", "pendulum period", "small angle oscillation"]
    assert len(h1.uris) == 3 and s1["counts"]["queries_done"] == 3
    calls = wh.query("SELECT role, prompt_version, status FROM llm_calls").rows()
    assert calls == [("generator", "expand_keywords.v1", "ok")]

    s2, h2 = collect_run(settings, 0)                               # rerun: cache hit, nothing searched again
    assert fake.calls == 1 and h2.uris == [] and s2["skipped_done_queries"] == 3
    # the searched proposals come from search_queries: no model call, not even a cache hit in the ledger
    assert wh.query("SELECT count(*) n FROM llm_calls")["n"][0] == 1


def test_malformed_expansion_is_quarantined_and_bank_keywords_still_searched(settings, wh, server):  # noqa: F811
    wh.write("knowledge_points", [KP], "seed")
    fake = FakeOpenAI(server)
    fake.default = lambda body: ok("not json at all")
    s, h = collect_run(generator_settings(settings, fake.base_url), 1)
    assert fake.calls == 3                                          # 1 + malformed_retries (2)
    assert wh.query("SELECT keyword FROM search_queries")["keyword"].to_list() == ["pendulum period"]
    q = wh.query("SELECT item, reason FROM quarantine WHERE stage = 'collect'").rows()
    assert q == [("kp-0", "keyword_expansion_failed")]


def test_offline_stand_in_proposes_templated_keywords():
    from jobs.sources.base import ChatRequest, KeywordExpansion
    req = ChatRequest(role="generator", task="expand_keywords", schema=KeywordExpansion, prompt_version="t",
                      messages=[], context={"name": KP["name"], "statement": KP["statement"], "max_keywords": 3})
    words = KeywordExpansion.model_validate_json(OfflineModel().complete(req)).keywords
    assert words == [f"{KP['name']} explained", f"{KP['name']} demonstration", f"{KP['name']} worked example"]
