"""Knowledge-bank expansion: proposals validated into kb_proposals, accepted ones loaded by the knowledge-bank stage."""
from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from jobs import knowledge_bank
from jobs.kb import expand as kb_expand
from jobs.sources.offline_model import OfflineModel

MINI = str(Path(__file__).resolve().parents[1] / "fixtures" / "mini_bank.yaml")


def proposals(wh, status: str | None = None) -> dict[str, dict]:
    """Proposals by name (of one status: names repeat across statuses, e.g. a misfiled copy)."""
    rows = wh.query("SELECT * FROM kb_proposals").to_dicts()
    return {r["name"]: r for r in rows if status is None or r["status"] == status}


@pytest.fixture
def loaded(settings):
    knowledge_bank.run(settings, params={"source": MINI})
    return settings


def test_proposals_are_validated_and_wait_pending(loaded, wh):
    out = kb_expand.run(loaded, ["physics"], params={"source": MINI}, offline_model=OfflineModel())
    rows = {r["proposal_id"]: r for r in wh.query("SELECT * FROM kb_proposals").to_dicts()}
    assert out["proposals"] == len(rows) == 8
    reasons = {r["reason"].split(":")[0] for r in rows.values() if r["status"] == "rejected"}
    assert reasons == {"schema", "duplicate_of_bank", "duplicate_in_batch", "parent"}
    assert out["rejected_by_reason"] == {"schema": 1, "duplicate_of_bank": 1, "duplicate_in_batch": 1, "parent": 1}
    pending = sorted(proposals(wh, "pending"))
    assert pending == ["Conservation of angular momentum", "Harmonics on a string", "Moment of inertia",
                       "Snell's law"]
    assert "belongs to course 'Classical Mechanics'" in next(r["reason"] for r in rows.values()
                                                             if r["reason"] and r["reason"].startswith("parent"))
    assert all(r["model"] == f"{OfflineModel.name}-generator" and r["prompt_version"] == "expand_kb.v1" and r["call_id"]
               for r in rows.values())
    kps = wh.query("SELECT count(*) FROM knowledge_points WHERE subject_id = 'physics'").item()
    assert kps == 2, "nothing reaches the bank before acceptance"
    again = kb_expand.run(loaded, ["physics"], params={"source": MINI}, offline_model=OfflineModel())
    assert again["rows"].get("kb_proposals", 0) == 0, "a rerun changes nothing"


def test_accept_writes_through_the_knowledge_bank_stage(loaded, wh):
    out = kb_expand.run(loaded, ["physics"], params={"source": MINI, "accept": True}, offline_model=OfflineModel())
    assert out["accepted"] == 4
    kps = wh.query("SELECT name, course_id, lecture_id, kp_id FROM knowledge_points WHERE subject_id = 'physics'")
    names = set(kps["name"].to_list())
    assert {"Moment of inertia", "Snell's law", "Period of a simple pendulum", "Hooke's law"} <= names
    assert len(names) == 6
    assert "physics/waves-and-optics/refraction" in kps["lecture_id"].to_list()
    accepted = proposals(wh, "accepted")
    assert set(accepted) == names - {"Period of a simple pendulum", "Hooke's law"}
    assert set(r["kp_id"] for r in accepted.values()) <= set(kps["kp_id"].to_list())
    bank = knowledge_bank.load_bank(out["bank"])
    assert knowledge_bank.validate(bank) == []
    assert yaml.safe_load(Path(MINI).read_text()) != bank, "the source file is never edited; a copy is written"
    # other subjects did not move
    assert wh.query("SELECT count(*) FROM knowledge_points WHERE subject_id = 'chemistry'").item() == 1
    # rerun (the bank has grown, so the generator sees more): decided proposals keep their verdicts
    verdicts = {r["proposal_id"]: (r["status"], r["reason"]) for r in wh.query("SELECT * FROM kb_proposals").to_dicts()}
    again = kb_expand.run(loaded, ["physics"], params={"source": MINI, "accept": True}, offline_model=OfflineModel())
    assert again["accepted"] == 0
    now = {r["proposal_id"]: (r["status"], r["reason"]) for r in wh.query("SELECT * FROM kb_proposals").to_dicts()}
    assert {k: now[k] for k in verdicts} == verdicts
    assert set(proposals(wh, "accepted")) == set(accepted)


def test_accept_by_id_and_unknown_subject(loaded, wh):
    kb_expand.run(loaded, ["physics", "no-such-subject"], params={"source": MINI}, offline_model=OfflineModel())
    q = wh.query("SELECT item, reason FROM quarantine WHERE stage = 'kb_expand'").to_dicts()
    assert q == [{"item": "no-such-subject", "reason": "parent_missing"}]
    pid = proposals(wh, "pending")["Snell's law"]["proposal_id"]
    out = kb_expand.run(loaded, ["physics"], params={"source": MINI, "accept": pid}, offline_model=OfflineModel())
    assert out["accepted"] == 1
    assert set(proposals(wh, "accepted")) == {"Snell's law"}
    assert "Snell's law" in wh.query("SELECT name FROM knowledge_points")["name"].to_list()


def test_check_proposal_rules():
    existing = {"Classical Mechanics": {"Oscillations": ["Hooke's law"]}}
    opts = {"allow_new_courses": True, "allow_new_lectures": True}
    ok = {"course": "classical mechanics", "lecture": "Rotation", "name": "Torque", "statement": "τ = r × F.",
          "keywords": ["torque"]}
    assert kb_expand.check_proposal(ok, existing, set(), opts) is None
    assert kb_expand.canonical(ok, existing)["course"] == "Classical Mechanics"
    assert kb_expand.check_proposal({**ok, "name": "HOOKE'S  LAW!"}, existing, set(), opts).startswith(
        "duplicate_of_bank")
    assert kb_expand.check_proposal(ok, existing, {"torque"}, opts).startswith("duplicate_in_batch")
    assert kb_expand.check_proposal({**ok, "keywords": []}, existing, set(), opts).startswith("schema")
    assert kb_expand.check_proposal({**ok, "course": "Optics"}, existing, set(),
                                    {**opts, "allow_new_courses": False}).startswith("parent")
    assert kb_expand.check_proposal({**ok, "course": "Optics", "lecture": "oscillations"}, existing, set(),
                                    opts).startswith("parent: lecture")
