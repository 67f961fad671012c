"""Knowledge-bank parsing and validation (no warehouse)."""
from pathlib import Path

import pytest
import yaml

from jobs.kb import bank as kb

MINI = Path(__file__).parents[1] / "fixtures" / "mini_bank.yaml"


def test_mini_bank_is_valid_and_flattens_with_stable_ids():
    doc = kb.load_bank(MINI)
    assert kb.validate(doc) == []
    rows = kb.flatten(doc)
    assert [r["subject_id"] for r in rows["subjects"]] == ["physics", "chemistry", "medicine"]
    assert len(rows["knowledge_points"]) == 4
    again = kb.flatten(kb.load_bank(MINI))
    assert [r["kp_id"] for r in again["knowledge_points"]] == [r["kp_id"] for r in rows["knowledge_points"]]
    assert rows["knowledge_points"][0]["course_id"] == "physics/classical-mechanics"


def test_every_problem_is_listed_with_its_location():
    doc = yaml.safe_load(MINI.read_text())
    nat = doc["disciplines"][0]
    nat["subjects"].append({"name": "Physics", "courses": []})                     # duplicate + missing level
    lec = nat["subjects"][0]["courses"][0]["lectures"][0]
    lec["knowledge_points"][1]["statement"] = "  "                                  # empty text
    lec["knowledge_points"].append(dict(lec["knowledge_points"][0]))               # duplicate kp name
    doc["disciplines"].append({"name": "Astrology", "subjects": [
        {"name": "Horoscopes", "courses": [{"name": "C", "lectures": [{"name": "L", "knowledge_points": [
            {"name": "K", "statement": "s", "keywords": []}]}]}]}]})                 # unknown discipline, no keywords
    problems = kb.validate(doc)
    text = "\n".join(problems)
    assert "Natural Sciences > Physics: duplicate subject" in text
    assert "Natural Sciences > Physics: missing level 'courses'" in text
    assert "Natural Sciences > Physics > Classical Mechanics > Oscillations > Hooke's law: empty or missing 'statement'" in text
    assert "duplicate knowledge point name" in text
    assert "'Astrology': unknown discipline" in text
    assert "Horoscopes > C > L > K: 'keywords' must be a non-empty list" in text
    assert len(problems) == 6


def test_unreadable_file_is_a_clear_error(tmp_path):
    bad = tmp_path / "bank.yaml"
    bad.write_text("disciplines: [\n  - name: x\n   oops")
    with pytest.raises(kb.KnowledgeBankError, match="not valid yaml"):
        kb.load_bank(bad)
    with pytest.raises(kb.KnowledgeBankError, match="file not found"):
        kb.load_bank(tmp_path / "missing.yaml")


def test_an_unsupported_format_version_is_refused():
    doc = yaml.safe_load(MINI.read_text()) | {"version": 99}
    assert kb.validate(doc) == ["bank: format version 99 is not supported (this videokr reads version 1)"]
