"""The candidate pool from `[review]`, deterministic stratified sampling, step -> role routing, the embedded pool."""
from __future__ import annotations

import json
from dataclasses import replace

import pytest

from jobs.llm import config as llm_config
from jobs.llm.config import ConfigError
from jobs.review import pool
from jobs.review.pilots import stratified
from jobs.sources.base import ChatRequest, GeneratedQA
from jobs.sources.offline_pool import POOL, PoolModel
from videokr.settings import Settings


def _settings(tmp_path, review=None, llm=None):
    extra = {k: v for k, v in (("review", review), ("llm", llm)) if v is not None}
    return replace(Settings(home=tmp_path), extra=extra)


def test_configured_pool_reads_endpoints_prices_sizes_thresholds_and_aliases(tmp_path):
    s = _settings(tmp_path, {"sample_size": 40, "threshold": 0.2, "steps": {
        "generation": {"threshold": 0.05, "candidates": [
            {"model": "gpt-x", "price": 0.004, "backend": "openai", "base_url": "https://api.example/v1",
             "api_key_env": "X_KEY"},
            {"model": "local-vl", "price": 0.0005, "endpoint": {"backend": "openai", "base_url": "http://vllm/v1",
                                                                "api_key_env": ""}}]},
        "solving": {"sample_size": 10, "candidates": [{"model": "s1", "price": 1}]}}})
    ps = pool.pools(s)
    qa = ps["qa_generation"]                                   # the first name, read as qa_generation
    assert (qa.threshold, qa.sample_size) == (0.05, 40)
    assert qa.candidate("gpt-x").endpoint == {"backend": "openai", "base_url": "https://api.example/v1",
                                              "api_key_env": "X_KEY", "model": "gpt-x"}
    assert qa.candidate("local-vl").endpoint["base_url"] == "http://vllm/v1" and qa.candidate("local-vl").price == 5e-4
    assert (ps["solving"].threshold, ps["solving"].sample_size) == (0.2, 10)
    assert ps["solving"].candidate("s1").endpoint["backend"] == "offline"
    with pytest.raises(ConfigError, match="no candidate 'nope'"):
        qa.candidate("nope")
    assert pool.require_approved(s)                           # a real candidate endpoint: approval required


def test_bad_pool_config_is_named(tmp_path):
    with pytest.raises(ConfigError, match="unknown step"):
        pool.pools(_settings(tmp_path, {"steps": {"painting": {"candidates": []}}}))
    with pytest.raises(ConfigError, match="listed twice"):
        pool.pools(_settings(tmp_path, {"steps": {"solving": {"candidates": [{"model": "a"}, {"model": "a"}]}}}))
    with pytest.raises(ConfigError, match="backend"):
        pool.pools(_settings(tmp_path, {"steps": {"solving": {"candidates": [{"model": "a", "backend": "x"}]}}}))


def test_embedded_world_gets_the_offline_pool_and_no_approval_requirement(tmp_path):
    s = _settings(tmp_path)
    ps = pool.pools(s)
    assert [c.model for c in ps["qa_generation"].candidates] == ["offline-gen-a", "offline-gen-b", "offline-gen-c"]
    assert len(ps["solving"].candidates) == 3 and ps["qa_generation"].sample_size == 100
    assert not pool.require_approved(s)
    assert pool.require_approved(_settings(tmp_path, {"require_approved_models": True}))
    # a real endpoint makes approval required by default (with or without a pool); hand-picked models say so
    real = {"roles": {"generator": {"backend": "openai", "model": "m", "api_key_env": ""}}}
    assert pool.pools(_settings(tmp_path, llm=real)) == {}
    assert pool.require_approved(_settings(tmp_path, llm=real))
    assert not pool.require_approved(_settings(tmp_path, {"require_approved_models": False}, real))
    assert pool.require_approved(_settings(tmp_path, {"steps": {"solving": {"candidates": [{"model": "a"}]}}}, real))


def test_stratified_sample_is_deterministic_spread_and_order_free():
    items = [{"item_id": f"i{k}", "stratum": f"{d}/{sk}"} for k in range(60)
             for d, sk in [("Natural Sciences", "basic"), ("Healthcare", "kir"), ("Engineering", "kep")][k % 3:k % 3 + 1]]
    a = stratified(items, 9, "qa_generation")
    assert a == stratified(list(reversed(items)), 9, "qa_generation")
    assert [x["stratum"] for x in a].count("Healthcare/kir") == 3 and len(a) == 9
    assert stratified(items, 9, "solving") != a                 # each step draws its own sample
    assert len(stratified(items, 500, "x")) == 60


def test_a_step_routes_its_roles_and_keyword_expansion_only_its_task(tmp_path):
    cfg = llm_config.load(_settings(tmp_path))
    out = llm_config.with_steps(cfg, {"solving": {"model": "offline-solve-b"},
                                      "keyword_expansion": {"model": "kw-model", "backend": "openai",
                                                            "base_url": "http://x/v1", "api_key_env": ""}})
    assert out.role("solver").model_name() == out.role("blind_solver").model_name() == "offline-solve-b"
    assert out.role("generator").model_name() == cfg.role("generator").model_name()    # generate_qa untouched
    kw = out.role_for("generator", "expand_keywords")
    assert (kw.backend, kw.model, kw.base_url) == ("openai", "kw-model", "http://x/v1")
    assert llm_config.step_of("generator", "expand_keywords") == "keyword_expansion"
    assert llm_config.step_of("generator", "generate_qa") == "qa_generation"
    assert llm_config.step_of("blind_solver", "solve") == "solving"


def _scene():
    from tests.unit.test_offline_model import make_scene
    return make_scene("vid00000001", n_good=60, flaws=())


def test_pool_models_corrupt_a_known_nested_share_of_items():
    from jobs.sources.offline_model import OfflineModel
    base = OfflineModel({"vid00000001": _scene()})
    req = ChatRequest(role="generator", task="generate_qa", messages=[], schema=GeneratedQA,
                      context={"video_id": "vid00000001", "n_frames": 8,
                               "frame_times": [2.5 + 5 * i for i in range(12)]})
    clean = json.loads(base.complete(req))["items"]
    assert len(clean) >= 60
    wrong = {}
    for name in ("offline-gen-a", "offline-gen-b", "offline-gen-c"):
        items = json.loads(PoolModel(POOL[name], base).complete(req))["items"]
        assert len(items) == len(clean) and json.loads(PoolModel(POOL[name], base).complete(req))["items"] == items
        wrong[name] = {i for i, (x, y) in enumerate(zip(items, clean)) if x != y}
    assert wrong["offline-gen-a"] <= wrong["offline-gen-b"] <= wrong["offline-gen-c"]     # shared draw
    assert len(wrong["offline-gen-a"]) < len(wrong["offline-gen-b"]) < len(wrong["offline-gen-c"])
    assert 0.15 < len(wrong["offline-gen-c"]) / len(clean) < 0.45
