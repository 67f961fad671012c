"""Dataset-card views (v_dataset_stats & co.) and jobs.card: numbers follow the rows, plots are written."""
from __future__ import annotations

from jobs import card, split


def test_views_and_card(settings, wh, tmp_path):
    wh.write("disciplines", [{"discipline_id": "natural-sciences", "name": "Natural Sciences"}], "t")
    wh.write("subjects", [{"subject_id": "physics", "discipline_id": "natural-sciences", "name": "Physics"},
                          {"subject_id": "chemistry", "discipline_id": "natural-sciences", "name": "Chemistry"},
                          {"subject_id": "biology", "discipline_id": "natural-sciences", "name": "Biology"},
                          {"subject_id": "geology", "discipline_id": "natural-sciences", "name": "Geology"}], "t")
    wh.write("knowledge_points", [{"kp_id": f"kp-{s}", "subject_id": s, "name": s}
                                  for s in ("physics", "chemistry", "biology", "geology")], "t")
    vids = {f"v{i}": ("physics" if i < 6 else "chemistry") for i in range(10)}
    wh.write("videos", [{"video_id": v, "subject_id": s, "kp_id": f"kp-{s}", "duration_s": 60.0 * (i + 1),
                         "eligible": True} for i, (v, s) in enumerate(vids.items())]
             + [{"video_id": "g0", "subject_id": "geology", "kp_id": "kp-geology", "eligible": False}], "t")
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

    # coverage gaps: biology found no video, geology's only video was not eligible; both are listed, the rest not
    gaps = {r["subject_id"]: r for r in wh.query("SELECT * FROM v_coverage_gaps").to_dicts()}
    assert set(gaps) == {"biology", "geology"}
    assert gaps["biology"]["lost_at"] == "no videos found" and gaps["biology"]["knowledge_points"] == 1
    assert gaps["geology"]["lost_at"].startswith("no eligible video") and gaps["geology"]["videos_found"] == 1

    out = card.run(settings, params={"out": str(tmp_path / "card")})
    md = (tmp_path / "card" / "README.md").read_text()
    assert "| total | 27 | 9 |" in md and "Knowledge-Intensive Video Reasoning" in md and "![skills](skill.png)" in md
    assert "## Coverage gaps" in md and "2 of 4 subjects" in md and "| Natural Sciences | Biology | 1 | 0 |" in md
    assert sorted(out["coverage_gaps"]) == ["biology", "geology"]
    for p in out["plots"]:
        assert open(p, "rb").read(8) == b"\x89PNG\r\n\x1a\n"

    # the HTML card stands alone: every plot inline as a base64 PNG, no reference to another file
    import base64
    import re
    html = open(out["html"]).read()
    srcs = re.findall(r'src="([^"]*)"', html)
    assert len(srcs) == len(out["plots"]) and all(s.startswith("data:image/png;base64,") for s in srcs)
    assert base64.b64decode(srcs[0].split(",", 1)[1])[:8] == b"\x89PNG\r\n\x1a\n"
    assert not re.search(r'(href|src)="(?!data:)', html)
    assert "<h2>Coverage gaps</h2>" in html and "<td>Biology</td>" in html and "no videos found" in html
