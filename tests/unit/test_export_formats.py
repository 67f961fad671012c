"""Export writers: each format has the release's shape (REFERENCE.md), both splits, relative video paths; output bytes
are deterministic. The tools' own loaders read these in tests/integration/test_export_loaders.py."""
from __future__ import annotations

import io
import json
import re

import pyarrow.parquet as pq
import pytest

from jobs.export import writers
from jobs.export.media import export_path
from jobs.export.rows import ExportRows
from train.verl_reward import compute_score

RESPONSE = re.compile(r"^<think>.+</think><answer>.+</answer>$", re.S)


def _rows() -> ExportRows:
    ex = [
        {"problem_id": "qa-1", "video_id": "vidA", "subject_id": "physics", "kp_id": "kp-1", "skill": "basic_video_reasoning",
         "problem_type": "multiple choice", "question": "Which way does the pendulum swing first?",
         "options": ["A. Left", "B. Right", "C. Up", "D. Down"], "answer": "B", "think": "Step 1.\nStep 2.",
         "split": "sft", "seed": 5, "video_path": "/data/media/vidA.mp4"},
        {"problem_id": "qa-2", "video_id": "vidB", "subject_id": "physics", "kp_id": "kp-1",
         "skill": "knowledge_intensive_reasoning", "problem_type": "open-ended", "question": "What is the period?",
         "options": [], "answer": "2 s", "think": "Count swings.", "split": "sft", "seed": 5,
         "video_path": "/data/media/vidB.MP4"},
        {"problem_id": "qa-3", "video_id": "vid/C", "subject_id": "chemistry", "kp_id": "kp-2",
         "skill": "knowledge_enhanced_perception", "problem_type": "multiple choice", "question": "Colour at the end?",
         "options": ["A. Pink", "B. Clear"], "answer": "A", "think": "Phenolphthalein.", "split": "rl", "seed": 5,
         "video_path": "/data/media/vidC.webm"},
    ]
    return ExportRows(12, ex, {"contaminated": 0})


def _jsonl(b: bytes) -> list[dict]:
    return [json.loads(x) for x in b.decode().splitlines()]


def test_video_paths_relative_to_the_folder_or_absolute():
    assert export_path("vidA", "/data/media/vidA.mp4") == "videos/vidA.mp4"
    assert export_path("vid/C", "/m/c.WEBM", "copy") == "videos/vid_C.webm"          # no folder escapes
    assert export_path("vidA", "/data/media/vidA.mp4", "absolute") == "/data/media/vidA.mp4"


def test_videokr_rows_are_the_release_s():
    files = writers.videokr(_rows(), {})
    sft, rl = _jsonl(files["sft.jsonl"]), _jsonl(files["rl.jsonl"])
    assert list(sft[0]) == ["problem_id", "problem", "data_type", "problem_type", "options", "process", "solution",
                            "path", "data_source"]
    assert sft[0]["process"] == "<think>Step 1.\nStep 2.</think>" and sft[0]["solution"] == "<answer>B</answer>"
    assert sft[0]["problem"] == "Which way does the pendulum swing first?" and sft[0]["data_type"] == "video"
    assert sft[0]["path"] == "videos/vidA.mp4" and sft[1]["path"] == "videos/vidB.mp4" and sft[1]["options"] == []
    assert {r["data_source"] for r in sft + rl} == {"videokr"}
    assert "process" not in rl[0] and rl[0]["path"] == "videos/vid_C.webm"
    assert [r["problem_id"] for r in sft] == ["qa-1", "qa-2"] and [r["problem_id"] for r in rl] == ["qa-3"]


def test_llamafactory_sharegpt_both_splits_registered_with_the_recipe():
    files = writers.llamafactory(_rows(), {"videos": "absolute"})
    sft, rl = json.loads(files["sft.json"]), json.loads(files["rl.json"])
    info = json.loads(files["dataset_info.json"])
    assert sorted(info) == ["videokr_rl", "videokr_sft"] and info["videokr_rl"]["file_name"] == "rl.json"
    assert info["videokr_sft"]["formatting"] == "sharegpt"
    assert info["videokr_sft"]["columns"] == {"messages": "messages", "videos": "videos"}
    user, asst = sft[0]["messages"]
    assert user["role"] == "user" and user["content"].startswith("<video>\nWhich way")
    assert all(x["messages"][0]["content"].count("<video>") == len(x["videos"]) == 1 for x in sft + rl)
    assert "A. Left\nB. Right" in user["content"] and "only the letter" in user["content"]
    assert "only the letter" not in sft[1]["messages"][0]["content"]              # open-ended note differs
    assert asst == {"role": "assistant", "content": "<think>Step 1.\nStep 2.</think><answer>B</answer>"}
    assert RESPONSE.match(asst["content"])
    assert sft[0]["videos"] == ["/data/media/vidA.mp4"] and len(sft) == 2 and len(rl) == 1
    yaml = files["train_sft.yaml"].decode()
    for line in ("finetuning_type: full", "freeze_vision_tower: true", "freeze_multi_modal_projector: true",
                 "deepspeed: ds_z3_config.json", "learning_rate: 1.0e-5", "lr_scheduler_type: cosine",
                 "warmup_steps: 0.02", "num_train_epochs: 1.0", "bf16: true", "video_fps: 2.0", "video_maxlen: 128",
                 "video_max_pixels: 100352", "cutoff_len: 16384", "template: qwen2_vl", "dataset: videokr_sft"):
        assert f"\n{line}" in yaml, line
    assert json.loads(files["ds_z3_config.json"])["zero_optimization"]["stage"] == 3


def test_llamafactory_registers_only_splits_with_rows():
    only_sft = ExportRows(1, [e for e in _rows().examples if e["split"] == "sft"])
    files = writers.llamafactory(only_sft, {})
    assert list(json.loads(files["dataset_info.json"])) == ["videokr_sft"] and files["rl.json"] == b"[]\n"


def test_verl_rows_are_the_release_s_field_for_field():
    files = writers.verl(_rows(), {})
    rl, sft = pq.read_table(io.BytesIO(files["rl.parquet"])), pq.read_table(io.BytesIO(files["sft.parquet"]))
    assert rl.column_names == ["data_source", "prompt", "videos", "ability", "reward_model", "extra_info"]
    assert rl.num_rows == 1 and sft.num_rows == 2
    row = rl.to_pylist()[0]
    assert row["data_source"] == "videokr" and row["ability"] == "video_qa"
    assert row["prompt"] == [{"role": "user", "content": "<video>\n" + writers._prompt(_rows().examples[2])}]
    assert row["videos"] == [{"video": "videos/vid_C.webm", "fps": 2.0, "max_frames": 128, "min_frames": 4,
                              "max_pixels": 100352, "min_pixels": 100352}]
    assert row["reward_model"] == {"style": "rule", "ground_truth": "<answer>A</answer>"}
    assert row["extra_info"] == {"problem_id": "qa-3", "problem_type": "multiple choice", "answer": "A",
                                 "solution": "<answer>A</answer>", "source_path": "videos/vid_C.webm",
                                 "split": "rl", "index": 0}
    assert [r["extra_info"]["index"] for r in sft.to_pylist()] == [0, 1]
    assert {r["extra_info"]["split"] for r in sft.to_pylist()} == {"sft"}
    assert writers.verl(_rows(), {"fps": 1.0, "max_frames": 64})["rl.parquet"] != files["rl.parquet"]


def test_verl_reward_entry_point_scores_rows_with_videokr_reward():
    row = pq.read_table(io.BytesIO(writers.verl(_rows(), {})["rl.parquet"])).to_pylist()[0]
    args = {"data_source": row["data_source"], "ground_truth": row["reward_model"]["ground_truth"],
            "extra_info": row["extra_info"]}
    assert compute_score(solution_str="<think>pink</think><answer>A</answer>", **args) == pytest.approx(1.0)
    assert compute_score(solution_str="<think>x</think><answer>B</answer>", **args) == pytest.approx(0.1)
    assert compute_score(solution_str="A", **args) == pytest.approx(0.0)
    with pytest.raises(NotImplementedError, match="gsm8k"):
        compute_score("gsm8k", "x", "y", {"problem_type": "multiple choice"})
    with pytest.raises(ValueError, match="problem_type"):
        compute_score("videokr", "x", "<answer>A</answer>", {})


def test_trl_conversational_shapes():
    from trl.data_utils import is_conversational
    files = writers.trl(_rows(), {})
    sft, rl = _jsonl(files["sft.jsonl"]), _jsonl(files["rl.jsonl"])
    assert all(is_conversational(x) for x in sft + rl)
    user = sft[0]["messages"][0]
    assert user["content"][0] == {"type": "video", "video": "videos/vidA.mp4"}
    assert user["content"][1]["type"] == "text" and "Options:" in user["content"][1]["text"]
    assert RESPONSE.match(sft[0]["messages"][1]["content"][0]["text"])
    assert rl[0]["prompt"][0]["role"] == "user" and rl[0]["solution"] == "<answer>A</answer>"
    assert rl[0]["problem_type"] == "multiple choice"


def test_same_rows_same_bytes():
    for name, w in writers.WRITERS.items():
        a, b = w(_rows(), {}), w(_rows(), {})
        assert a == b, name
        assert all(writers.count_rows(f, d) in (None, 1, 2) for f, d in a.items())
