"""Independent roles: the generator, the solvers and the CoT validator must be different models, enforced when a
stage starts (before any work), with `allow_same_model` as a loud, recorded override."""
from __future__ import annotations

import json

import pytest

from jobs import generate, verify
from jobs.llm.config import ConfigError, check_independence, load
from jobs.sources.offline_model import OfflineModel
from tests.integration.test_generate import seed_world, world_scenes

SAME = {"backend": "openai", "base_url": "http://127.0.0.1:9/v1", "model": "gpt-same", "api_key_env": ""}


def test_embedded_roles_are_independent(settings):
    cfg = load(settings)
    assert check_independence(cfg, ("generator", "solver", "blind_solver", "cot_validator")) == []
    names = {r: cfg.role(r).model_name() for r in ("generator", "solver", "cot_validator")}
    assert len(set(names.values())) == 3


def test_same_model_for_generator_and_validator_is_refused_naming_the_roles(settings, wh):
    settings.extra["llm"] = {"roles": {"generator": SAME, "cot_validator": SAME}}
    settings.extra["review"] = {"require_approved_models": False}
    with pytest.raises(ConfigError, match="roles generator and cot_validator use the same model 'gpt-same'"):
        generate.run(settings)
    with pytest.raises(ConfigError, match="generator and cot_validator"):
        verify.run(settings)
    assert wh.query("SELECT count(*) FROM llm_calls").item() == 0          # refused before any work
    runs = wh.query("SELECT stage, status, error FROM runs ORDER BY started").to_dicts()
    assert [r["status"] for r in runs] == ["failed", "failed"] and "ConfigError" in runs[0]["error"]


def test_a_solver_that_wrote_the_candidates_is_refused(settings, wh):
    scenes = world_scenes()
    seed_world(wh, scenes)
    generate.run(settings, subjects=["physics"], offline_model=OfflineModel(scenes))
    writer = wh.query("SELECT DISTINCT model FROM candidates").item()
    settings.extra["llm"] = {"roles": {"solver": {"model": writer}}}          # offline, named as the generator
    with pytest.raises(ConfigError, match=f"role solver uses '{writer}', the generator of"):
        verify.run(settings, subjects=["physics"], offline_model=OfflineModel(scenes))


def test_allow_same_model_warns_and_records_it_in_runs(settings, wh):
    scenes = world_scenes()
    seed_world(wh, scenes)
    settings.extra["llm"] = {"allow_same_model": True, "roles": {"cot_validator": {"model": "offline-one"},
                                                                  "generator": {"model": "offline-one"}}}
    out = generate.run(settings, subjects=["physics"], offline_model=OfflineModel(scenes))
    assert out["candidates"] > 0
    params = json.loads(wh.query("SELECT params FROM runs WHERE run_id = ?", [out["run_id"]]).item())
    assert params["independence_warnings"] == ["roles generator and cot_validator use the same model 'offline-one'"]
