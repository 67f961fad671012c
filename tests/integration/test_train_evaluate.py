"""Evaluation on a VideoKR export and on MMVU / VideoMMMU-shaped files, at two frame budgets, into eval_results."""
import json

import pytest

from train.evaluate import evaluate, record
from train.synthetic import write_dataset, write_video
from train.tiny import build_tiny


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    root = tmp_path_factory.mktemp("eval")
    export = write_dataset(root / "export", n=4, sft=False, open_ended_every=2, name="eval.jsonl")
    (root / "export" / "manifest.json").write_text(json.dumps({"snapshot_id": 9}))
    videos = root / "bench_videos"
    write_video(videos / "Chemistry" / "0.mp4", "B")                 # MMVU: <root>/<Subject>/<n>.mp4
    write_video(videos / "dev_Biology_3.mp4", "A")                   # VideoMMMU: <root>/<id>.mp4
    mmvu = root / "validation.json"
    mmvu.write_text(json.dumps([
        {"id": "validation_1", "video": "https://x/videos/Chemistry/0.mp4", "question_type": "multiple-choice",
         "metadata": {"subject": "Chemistry"}, "question": "Which?", "choices": {"A": "1", "B": "2", "C": "", "D": ""},
         "answer": "B"},
        {"id": "validation_2", "video": "https://x/videos/Chemistry/0.mp4", "question_type": "open-ended",
         "metadata": {"subject": "Chemistry"}, "question": "What?", "choices": {"A": ""}, "answer": "green square"},
        {"id": "validation_3", "video": "https://x/videos/Art/9.mp4", "question_type": "open-ended",   # missing video
         "metadata": {"subject": "Art"}, "question": "What?", "choices": {}, "answer": "dolly zoom"}]))
    vmmmu = root / "perception_video.json"
    vmmmu.write_text(json.dumps({"Perception": {"0": {"id": "dev_Biology_3", "question": "How many?",
                                                      "options": ["3", "4", "5"], "answer": "A"}}}))
    return {"root": root, "export": export, "mmvu": mmvu, "vmmmu": vmmmu, "videos": videos,
            "model": build_tiny("qwen2_5_vl", root / "model")}


def test_export_eval_by_type_and_subject_into_warehouse(world, wh):
    res = evaluate(str(world["model"]), [str(world["export"])], frames=(4, 8), out=str(world["root"] / "out"),
                   max_new_tokens=8, batch_size=2)
    rows = res["rows"]
    assert {r["frames"] for r in rows} == {4, 8}
    overall = [r for r in rows if r["group_by"] == "overall"]
    assert len(overall) == 2 and all(r["n"] == 4 and r["failed"] == 0 for r in overall)
    assert {r["group_value"] for r in rows if r["group_by"] == "question_type"} == {"multiple choice", "open-ended"}
    assert {r["group_value"] for r in rows if r["group_by"] == "subject"} == {"physics", "computer-science"}
    assert all(0.0 <= r["accuracy"] <= 1.0 for r in rows)
    assert (world["root"] / "out" / "predictions.jsonl").is_file()
    first = record(res, wh=wh)
    stored = wh.query("SELECT * FROM eval_results ORDER BY frames, group_by, group_value").to_dicts()
    assert len(stored) == len(rows) and all(s["snapshot_id"] == 9 for s in stored)
    assert first["rows"]["inserted"] == len(rows)
    again = record(evaluate(str(world["model"]), [str(world["export"])], frames=(4, 8), max_new_tokens=8,
                            batch_size=2), wh=wh)
    assert again["rows"]["inserted"] == 0                              # same eval again: nothing changes


def test_benchmark_shapes_with_missing_video(world, wh):
    res = evaluate(str(world["model"]), [str(world["mmvu"]), str(world["vmmmu"])], frames=(4,),
                   video_root=str(world["videos"]), max_new_tokens=8)
    overall = {r["dataset"]: r for r in res["rows"] if r["group_by"] == "overall"}
    assert overall["mmvu"]["n"] == 2 and overall["mmvu"]["failed"] == 1
    assert overall["videommmu/perception"]["n"] == 1
    assert {r["group_value"] for r in res["rows"] if r["group_by"] == "subject"} >= {"Chemistry", "Art", "Biology"}
    record(res, wh=wh)
    q = wh.query("SELECT item, reason FROM quarantine WHERE stage = 'evaluate'").to_dicts()
    assert q and q[0]["item"].endswith("Art/9.mp4") and q[0]["reason"] == "eval_video_unreadable"


def test_judge_hook_scores_open_ended(world):
    calls = []

    def judge(question, reference, response):
        calls.append(reference)
        return 1.0

    res = evaluate(str(world["model"]), [str(world["mmvu"])], frames=(4,), video_root=str(world["videos"]),
                   max_new_tokens=4, judge=judge)
    assert calls == ["green square"] and res["scorer"] == "rule+judge"
    oe = next(r for r in res["rows"] if r["group_by"] == "question_type" and r["group_value"] == "open-ended")
    assert oe["accuracy"] == 1.0


def test_recorded_units_resume_and_an_unchanged_rerun_loads_no_model(world, wh):
    """Each (file, frame budget) commits alone: a later run evaluates only the units not committed with the same
    fingerprint, and with nothing left it never loads the model."""
    from train.evaluate import Recorder, model_identity
    from warehouse import stage_run
    fp = model_identity(str(world["model"]))

    def run(frames, fingerprint=fp, model="unused"):
        with stage_run(wh, "evaluate") as r:
            return evaluate(str(world["model"]), [str(world["export"])], frames=frames, max_new_tokens=4,
                            recorder=Recorder(r, fingerprint), **({"model": model, "processor": model}
                                                                   if model == "unused" else {}))
    first = evaluate(str(world["model"]), [str(world["export"])], frames=(4,), max_new_tokens=4)
    with stage_run(wh, "evaluate") as r:                 # the 4-frame unit commits, as if the run died after it
        evaluate(str(world["model"]), [str(world["export"])], frames=(4,), max_new_tokens=4,
                 recorder=Recorder(r, fp))
    assert wh.query("SELECT DISTINCT frames FROM eval_results").to_series().to_list() == [4]
    again = run((4,))                                    # committed: skipped before any model use ("unused")
    assert again["skipped_units"] == 1 and again["items"] == []
    more = run((4, 8), model=None)                       # only the 8-frame unit is evaluated
    assert more["skipped_units"] == 1 and {s["frames"] for s in more["items"]} == {8}
    assert sorted(wh.query("SELECT DISTINCT frames FROM eval_results").to_series().to_list()) == [4, 8]
    assert run((4,), fingerprint="retrained", model=None)["skipped_units"] == 0   # a new model: evaluated again
    assert len(first["items"]) == 4
