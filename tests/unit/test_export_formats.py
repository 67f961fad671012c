"""Export writers: each format has the documented shape of the tool that loads it; output bytes are deterministic."""
from __future__ import annotations

import io
import json
import re

import pyarrow.parquet as pq

from jobs.export import writers
from jobs.export.rows import ExportRows

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
         "video_path": "/data/media/vidB.mp4"},
        {"problem_id": "qa-3", "video_id": "vidC", "subject_id": "chemistry", "kp_id": "kp-2",
         "skill": "knowledge_enhanced_perception", "problem_type": "multiple choice", "question": "Colour at the end?",
         "options": ["A. Pink", "B. Clear"], "answer": "A", "think": "Phenolphthalein.", "split": "rl", "seed": 5,
         "video_path": "/data/media/vidC.mp4"},
    ]
    return ExportRows(12, ex, {"contaminated": 0})


def _jsonl(b: bytes) -> list[dict]:
    return [json.loads(x) for x in b.decode().splitlines()]


def test_videokr_released_fields():
    files = writers.videokr(_rows(), {})
    sft, rl = _jsonl(files["sft.jsonl"]), _jsonl(files["rl.jsonl"])
    assert list(sft[0]) == ["problem_id", "problem_type", "question", "options", "solution", "think", "video_path"]
    assert sft[0]["solution"] == "<answer>B</answer>" and sft[1]["options"] == []
    assert list(rl[0]) == ["problem_id", "problem_type", "question", "options", "solution", "video_path"]   # no think
    assert [r["problem_id"] for r in sft] == ["qa-1", "qa-2"] and [r["problem_id"] for r in rl] == ["qa-3"]


def test_llamafactory_sharegpt_with_video_placeholder():
    files = writers.llamafactory(_rows(), {"video_root": "/data"})
    data = json.loads(files["sft.json"])
    info = json.loads(files["dataset_info.json"])["videokr_sft"]
    assert info["formatting"] == "sharegpt" and info["columns"] == {"messages": "messages", "videos": "videos"}
    assert info["tags"]["role_tag"] == "role" and info["tags"]["user_tag"] == "user"
    user, asst = data[0]["messages"]
    assert user["role"] == "user" and user["content"].startswith("<video>") and user["content"].count("<video>") == 1
    assert "A. Left\nB. Right" in user["content"] and "<think></think>" in user["content"]
    assert "only the letter" in user["content"]
    assert "only the letter" not in data[1]["messages"][0]["content"]              # open-ended note differs
    assert asst == {"role": "assistant", "content": "<think>Step 1.\nStep 2.</think><answer>B</answer>"}
    assert RESPONSE.match(asst["content"])
    assert data[0]["videos"] == ["media/vidA.mp4"]                                  # relative to video_root
    assert len(data) == 2                                                            # SFT split only


def test_verl_parquet_fields():
    files = writers.verl(_rows(), {"fps": 1.0, "max_frames": 64})
    t = pq.read_table(io.BytesIO(files["rl.parquet"]))
    assert t.column_names == ["data_source", "prompt", "videos", "ability", "reward_model", "extra_info"]
    row = t.to_pylist()[0]
    assert row["data_source"] == "videokr"
    assert row["prompt"][0]["role"] == "user" and row["prompt"][0]["content"].startswith("<video>")
    assert row["videos"] == [{"video": "/data/media/vidC.mp4", "fps": 1.0, "max_frames": 64}]
    assert row["reward_model"] == {"style": "rule", "ground_truth": "A"}
    assert row["extra_info"]["problem_type"] == "multiple choice" and row["extra_info"]["index"] == 0
    assert t.num_rows == 1                                                            # RL split only


def test_trl_conversational_shapes():
    from trl.data_utils import is_conversational
    files = writers.trl(_rows(), {})
    sft, rl = _jsonl(files["sft.jsonl"]), _jsonl(files["rl.jsonl"])
    assert all(is_conversational(x) for x in sft + rl)
    user = sft[0]["messages"][0]
    assert user["content"][0] == {"type": "video", "video": "/data/media/vidA.mp4"}
    assert user["content"][1]["type"] == "text" and "Options:" in user["content"][1]["text"]
    assert RESPONSE.match(sft[0]["messages"][1]["content"][0]["text"])
    assert rl[0]["prompt"][0]["role"] == "user" and rl[0]["solution"] == "<answer>A</answer>"
    assert rl[0]["problem_type"] == "multiple choice"


def test_same_rows_same_bytes():
    for name, w in writers.WRITERS.items():
        a, b = w(_rows(), {}), w(_rows(), {})
        assert a == b, name
        assert all(writers.count_rows(f, d) in (None, 1, 2) for f, d in a.items())
