"""Acceptance (issue 15, item 2): on the sample world, v_check_catch_rates shows every planted kind caught by the
check meant for it, with checking stand-ins that cannot read a plant record.

The generator stand-in gets the world (it reads plant records to write the planted mistakes); the checking roles
get the same scene records with every `flaw` key removed, so a catch can only come from the candidates' content,
the page text and the facts seen at the frames' instants.
"""
from __future__ import annotations

import copy

from jobs import generate, verify
from jobs.sources.offline_model import OfflineModel
from jobs.sources.sample.planted import FLAW_CHECK
from tests.integration.test_verify_sample_world import seed, world  # noqa: F401  (fixture)


def strip_plants(obj):
    """A deep copy without any `flaw` key, at any depth; also returns how many were removed."""
    removed = 0

    def walk(x):
        nonlocal removed
        if isinstance(x, dict):
            removed += "flaw" in x
            return {k: walk(v) for k, v in x.items() if k != "flaw"}
        if isinstance(x, list):
            return [walk(v) for v in x]
        return x
    return walk(copy.deepcopy(obj)), removed


def test_every_planted_kind_is_caught_by_its_check_without_reading_plants(settings, wh, world):  # noqa: F811
    scenes, _ = world
    checker_world, removed = strip_plants(scenes)
    assert removed == sum(len(s["facts"]) for s in scenes.values())
    assert "flaw" not in repr(checker_world).replace("flawed", "")
    seed(wh, scenes)
    generate.run(settings, offline_model=OfflineModel(scenes))
    out = verify.run(settings, params={"early_exit": False}, offline_model=OfflineModel(checker_world))
    view = wh.query("SELECT * FROM v_check_catch_rates").to_dicts()
    intended = {r["kind"]: r for r in view if r["intended"]}
    assert set(intended) == set(FLAW_CHECK)
    for kind, r in intended.items():
        assert r["check_name"] == FLAW_CHECK[kind] and r["candidates"] >= 2, r
        assert r["caught"] == r["candidates"] and r["rate"] == 1.0 and r["measure"] == "catch_rate", r
    clean = {r["check_name"]: r for r in view if r["kind"] == "clean"}
    assert set(clean) == set(verify.CHECKS) and all(r["measure"] == "false_rejection_rate" for r in clean.values())
    assert clean["self_consistency"]["rate"] == clean["cot_validation"]["rate"] == 0.0
    assert 0 < clean["video_dependency"]["rate"] < 0.1          # lucky blind guesses on multiple choice only
    n_cands = wh.query("SELECT count(*) FROM candidates").item()
    assert all(sum(r["candidates"] for r in view if r["check_name"] == c) == n_cands == out["candidates"]
               for c in verify.CHECKS), "full mode: every check ran on every candidate"
