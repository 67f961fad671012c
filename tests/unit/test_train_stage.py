"""The train stage's held-out carve: grouped by video, deterministic, subjects attached for per-subject accuracy."""
import json

from train.stage import held_out


def test_held_out_is_grouped_by_video_and_deterministic(tmp_path):
    rows = [{"problem_id": f"qa-{v}-{i}", "problem_type": "multiple choice", "question": "q", "options": ["A. x"],
             "solution": "<answer>A</answer>", "video_path": f"/media/v{v}.mp4"} for v in range(40) for i in range(3)]
    src = tmp_path / "rl.jsonl"
    src.write_text("".join(json.dumps(r) + "\n" for r in rows))
    subjects = {r["problem_id"]: f"s{int(r['video_path'][8:-4]) % 3}" for r in rows}
    grpo, ev, n = held_out(src, tmp_path / "a", 0.25, seed=7, subjects=subjects)
    held = [json.loads(x) for x in ev.read_text().splitlines()]
    kept = [json.loads(x) for x in grpo.read_text().splitlines()]
    assert n == len(held) and 0 < n < len(rows) and len(held) + len(kept) == len(rows)
    assert not {r["video_path"] for r in held} & {r["video_path"] for r in kept}      # one side per video
    assert all(r["subject_id"] == subjects[r["problem_id"]] for r in held)
    _, ev2, _ = held_out(src, tmp_path / "b", 0.25, seed=7, subjects=subjects)
    assert ev2.read_text() == ev.read_text()
    _, ev3, _ = held_out(src, tmp_path / "c", 0.25, seed=8, subjects=subjects)
    assert ev3.read_text() != ev.read_text()
