"""Pilots, the gate and the approved-model override against a temporary warehouse, with the offline stand-in over
hand-made scenes (no planted flaws, so an item is wrong only where a pool model corrupted it)."""
from __future__ import annotations

import dataclasses
import hashlib

import pytest

from jobs.llm.config import ConfigError
from jobs.review import gate, pilots, samples, selection
from jobs.review.pool import review_config
from jobs.sources.offline_model import OfflineModel, option_text, split_steps
from tests.unit.test_offline_model import make_scene
from warehouse import stage_run

SUBJECTS = {"physics": ("natural-sciences", "Natural Sciences"), "computer-science": ("engineering", "Engineering")}
VIDEOS = {f"{s[:4]}{i:07d}": s for s in SUBJECTS for i in range(3)}


def scenes() -> dict[str, dict]:
    return {vid: make_scene(vid, n_good=6, flaws=(), kp_name=f"Point of {vid}") for vid in VIDEOS}


def seed(wh) -> None:
    kp = {vid: "kp-" + hashlib.sha1(vid.encode()).hexdigest()[:10] for vid in VIDEOS}
    with stage_run(wh, "fixture") as r:
        r.write("disciplines", [{"discipline_id": d, "name": n} for d, n in SUBJECTS.values()])
        r.write("subjects", [{"subject_id": s, "discipline_id": d, "name": s.title(), "position": i}
                             for i, (s, (d, _)) in enumerate(SUBJECTS.items())])
        r.write("knowledge_points", [{"kp_id": kp[v], "subject_id": s, "name": f"Point of {v}",
                                      "statement": "A principle.", "keywords": []} for v, s in VIDEOS.items()])
        r.write("videos", [{"video_id": v, "subject_id": s, "kp_id": kp[v], "title": f"Lecture {v}",
                            "description": "A lecture.", "duration_s": 60.0} for v, s in VIDEOS.items()])
        r.write("screening", [{"video_id": v, "subject_id": s, "kp_id": kp[v], "decision": "keep"}
                              for v, s in VIDEOS.items()])
        r.write("downloads", [{"video_id": v, "subject_id": s, "path": f"/nonexistent/{v}.mp4", "status": "ok"}
                              for v, s in VIDEOS.items()])


def honest(scene: dict, out: dict) -> bool:
    """An expert's verdict from the scene facts: the answer is the fact's, every step is one of the scene's."""
    fact = next((f for f in scene["facts"] if f["question"] == out.get("question")), None)
    if fact is None:
        return False
    answer = out["answer"]
    if out.get("options"):
        answer = option_text(next((o for o in out["options"] if o.startswith(answer + ".")), ""))
    true_steps = {s["text"] for s in fact["steps"]}
    return answer == fact["answer"] and all(s in true_steps for s in split_steps(out["think"]))


@pytest.fixture
def world(settings, wh):
    seed(wh)
    return OfflineModel(scenes())


def _samples(wh, step="qa_generation"):
    return wh.query("SELECT * FROM review_samples WHERE step = ? ORDER BY model, item_id", [step]).to_dicts()


def test_pilots_run_every_candidate_on_the_same_stratified_items(settings, wh, world):
    out = pilots.run(settings, params={"steps": ["qa_generation"], "sample_size": 8}, offline_model=world)
    assert out["items"] == {"qa_generation": 8}
    rows = _samples(wh)
    by_model: dict[str, list] = {}
    for r in rows:
        by_model.setdefault(r["model"], []).append(r["item_id"])
    assert sorted(by_model) == ["offline-gen-a", "offline-gen-b", "offline-gen-c"]
    assert by_model["offline-gen-a"] == by_model["offline-gen-b"] == by_model["offline-gen-c"]
    strata = {r["stratum"] for r in rows}
    assert {s.split("/")[0] for s in strata} == {"Natural Sciences", "Engineering"} and len(strata) == 8
    assert all(r["frame_timestamps"] and r["call_id"] for r in rows)
    calls = wh.query("SELECT model, count(*) n FROM llm_calls WHERE task = 'generate_qa' GROUP BY model")
    videos = len({r["video_id"] for r in rows})
    assert dict(calls.iter_rows()) == {m: videos for m in by_model}      # one call per sampled video and model
    # a rerun draws the same sample and rewrites the same rows
    pilots.run(settings, params={"steps": ["qa_generation"], "sample_size": 8}, offline_model=world)
    assert [r["sample_id"] for r in _samples(wh)] == [r["sample_id"] for r in rows]


def test_verdicts_pick_and_approval_route_generate_to_the_approved_model(settings, wh, world):
    import json

    from jobs import generate
    pilots.run(settings, params={"steps": ["qa_generation"], "sample_size": 24}, offline_model=world)
    truth = scenes()
    errors = {}
    for r in _samples(wh):
        ok = honest(truth[r["video_id"]], json.loads(r["output"]))
        errors[r["model"]] = errors.get(r["model"], 0) + (not ok)
        samples.add_verdict(wh, r["sample_id"], "expert", "correct" if ok else "error",
                            None if ok else "wrong_answer")
    assert errors["offline-gen-a"] <= errors["offline-gen-b"] <= errors["offline-gen-c"], errors
    assert errors["offline-gen-c"] > errors["offline-gen-a"]
    assert gate.ready(settings, ["qa_generation"])[0]
    review = review_config(settings)
    review["steps"]["qa_generation"]["threshold"] = 0.5
    cfg = dataclasses.replace(settings, extra={**settings.extra, "review": review})
    picks = gate.decide(cfg, ["qa_generation"])
    model = picks["qa_generation"]["model"]
    assert "| offline-gen-a |" in picks["qa_generation"]["body"] and "95% Wilson" in picks["qa_generation"]["body"]
    assert gate.approved(wh) == {}
    with pytest.raises(ValueError, match="not the approved"):
        gate.approve(cfg, "qa_generation", "offline-gen-zz", "lead")
    gate.approve(cfg, "qa_generation", model, "lead")
    assert gate.approved(wh) == {"qa_generation": model}
    generate.run(cfg, offline_model=world)
    assert set(wh.query("SELECT DISTINCT model FROM candidates")["model"]) == {model}
    ledger = wh.query("SELECT DISTINCT model FROM llm_calls WHERE task = 'generate_qa' AND run_id LIKE 'generate%'")
    assert set(ledger["model"]) == {model}
    params = wh.query("SELECT params FROM runs WHERE stage = 'generate'")["params"][0]
    assert json.loads(params)["approved_models"] == {"qa_generation": model}
    # a new decision resets the approval: the lead must approve the new figures
    gate.decide(cfg, ["qa_generation"])
    assert gate.approved(wh) == {}


def test_a_stage_refuses_without_an_approved_selection_naming_the_step(settings, wh, world):
    from jobs import generate, verify
    strict = dataclasses.replace(settings, extra={**settings.extra, "review": {"require_approved_models": True}})
    with pytest.raises(ConfigError, match="step qa_generation has no approved model"):
        generate.run(strict, offline_model=world)
    assert wh.query("SELECT count(*) n FROM candidates")["n"][0] == 0
    assert wh.query("SELECT count(*) n FROM llm_calls")["n"][0] == 0
    with pytest.raises(ConfigError, match="step solving has no approved model"):
        verify.run(strict, offline_model=world)
    # pilots are what produces the approval: they run under the same setting
    pilots.run(strict, params={"steps": ["qa_generation"], "sample_size": 2}, offline_model=world)
    assert len(_samples(wh)) == 6


def test_selection_prices_the_embedded_pool_without_a_review_table():
    threshold, prices = selection.step_config({}, "qa_generation")
    assert prices["offline-gen-c"] < prices["offline-gen-b"] < prices["offline-gen-a"] and threshold == 0.10
