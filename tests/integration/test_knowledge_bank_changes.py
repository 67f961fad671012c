"""The knowledge_bank stage is change-only: an unchanged subject is not written, an edited one is written alone, a
subject dropped from the file is removed, and `force` rewrites (diffing) regardless."""
from __future__ import annotations

import yaml

from jobs import knowledge_bank
from videokr.settings import REPO_ROOT

BANK = REPO_ROOT / "tests" / "fixtures" / "mini_bank.yaml"


def _count(wh, table: str, sid: str) -> int:
    return wh.query(f"SELECT count(*) FROM {table} WHERE subject_id = ?", [sid]).item()


def test_rerun_writes_only_changed_subjects(settings, wh, tmp_path):
    doc = yaml.safe_load(BANK.read_text())
    first = knowledge_bank.run(settings, params={"source": str(BANK)})
    assert first["changed"] and first["skipped"] == 0 and first["rows"]["knowledge_points"] > 0
    again = knowledge_bank.run(settings, params={"source": str(BANK)})
    assert (again["changed"], again["rows"], again["skipped"]) == (False, {}, first["counts"]["subjects"])

    physics = doc["disciplines"][0]["subjects"][0]
    physics["courses"][0]["lectures"][0]["knowledge_points"][0]["statement"] += " (edited)"
    edited = tmp_path / "bank.yaml"
    edited.write_text(yaml.safe_dump(doc, allow_unicode=True))
    out = knowledge_bank.run(settings, params={"source": str(edited)})
    assert out["changed"] and out["skipped"] == first["counts"]["subjects"] - 1
    assert out["rows"]["knowledge_points"] == 1 and not any(out["rows"].get(t) for t in ("subjects", "courses"))
    assert wh.query("SELECT count(*) FROM knowledge_points WHERE statement LIKE '%(edited)'").item() == 1

    chemistry = doc["disciplines"][0]["subjects"].pop(1)
    assert chemistry["name"] == "Chemistry" and _count(wh, "knowledge_points", "chemistry") > 0
    edited.write_text(yaml.safe_dump(doc, allow_unicode=True))
    out = knowledge_bank.run(settings, params={"source": str(edited)})
    assert out["changed"] and _count(wh, "knowledge_points", "chemistry") == 0 == _count(wh, "subjects", "chemistry")
    assert wh.query("SELECT count(*) FROM item_fingerprints WHERE stage = 'knowledge_bank' AND item = 'chemistry'"
                    ).item() == 0
    forced = knowledge_bank.run(settings, params={"source": str(edited), "force": True})
    assert forced["skipped"] == 0 and not forced["changed"]      # rewritten through the diff: nothing differs
