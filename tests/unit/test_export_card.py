"""Dataset-card views (v_dataset_stats & co.) and jobs.card: numbers follow the rows, plots are written."""
from __future__ import annotations

from jobs import card, split


def test_views_and_card(settings, wh, tmp_path):
    wh.write("disciplines", [{"discipline_id": "natural-sciences", "name": "Natural Sciences"}], "t")
    wh.write("subjects", [{"subject_id": "physics", "discipline_id": "natural-sciences", "name": "Physics"},
                          {"subject_id": "chemistry", "discipline_id": "natural-sciences", "name": "Chemistry"}], "t")
    vids = {f"v{i}": ("physics" if i < 6 else "chemistry") for i in range(10)}
    wh.write("videos", [{"video_id": v, "subject_id": s, "kp_id": f"kp-{s}", "duration_s": 60.0 * (i + 1)}
                        for i, (v, s) in enumerate(vids.items())], "t")
    qa = []
    for i, (v, s) in enumerate(vids.items()):
        for j in range(3):
            mc = j < 2
            qa.append({"candidate_id": f"qa-{v}-{j}", "video_id": v, "kp_id": f"kp-{s}", "subject_id": s,
                       "skill": ["basic_video_reasoning", "knowledge_enhanced_perception",
                                 "knowledge_intensive_reasoning"][j],
                       "problem_type": "multiple choice" if mc else "open-ended", "question": "q?",
                       "options": ["A. x", "B. y"] if mc else None, "answer": "A" if mc else "y",
                       "think": "one two three\nfour five"})
    wh.write("verified_qa", qa, "t")
    wh.write("contamination", [{"video_id": "v9", "subject_id": "chemistry", "benchmark": "mmvu",
                                "matched_item": "validation_1", "method": "youtube_id", "score": 1.0}], "t")
    split.run(settings, params={"seed": 1})

    stats = {r["split"]: r for r in wh.query("SELECT * FROM v_dataset_stats").to_dicts()}
    total = stats["total"]
    assert total["examples"] == 27 and total["videos"] == 9 and total["subjects"] == 2   # v9 excluded
    assert stats["sft"]["examples"] + stats["rl"]["examples"] == 27
    assert abs(total["multiple_choice_share"] - 2 / 3) < 1e-3
    assert total["avg_video_s"] == 300.0                                  # mean of 60..540 s over v0..v8
    assert total["avg_rationale_words"] == 5.0 and total["avg_rationale_steps"] == 2.0
    skills = wh.query("SELECT skill, examples FROM v_skill_stats WHERE split = 'total'").to_dicts()
    assert {r["examples"] for r in skills} == {9}
    disc = wh.query("SELECT * FROM v_discipline_stats WHERE split = 'total'").to_dicts()
    assert disc == [{"discipline": "Natural Sciences", "split": "total", "examples": 27, "videos": 9, "subjects": 2}]
    subj = wh.query("SELECT subject, examples FROM v_subject_stats WHERE split = 'total' ORDER BY 1").to_dicts()
    assert subj == [{"subject": "Chemistry", "examples": 9}, {"subject": "Physics", "examples": 18}]
    assert wh.query("SELECT videos, verified_examples_excluded FROM v_contamination_summary").to_dicts() == [
        {"videos": 1, "verified_examples_excluded": 3}]
    for check in ("contaminated_not_split", "split_grouped_by_video"):
        from videokr.settings import SQL_DIR
        assert wh.query((SQL_DIR / "checks" / f"{check}.sql").read_text()).is_empty(), check

    out = card.run(settings, params={"out": str(tmp_path / "card")})
    md = (tmp_path / "card" / "README.md").read_text()
    assert "| total | 27 | 9 |" in md and "Knowledge-Intensive Video Reasoning" in md and "![skills](skill.png)" in md
    for p in out["plots"]:
        assert open(p, "rb").read(8) == b"\x89PNG\r\n\x1a\n"
