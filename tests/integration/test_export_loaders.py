"""Every row of every export format loads in the tool it is for, with that tool's own code, after the folder moved.

LLaMA-Factory and verl come from PyPI at pinned versions, installed with `pip --no-deps --target` into a cache folder
keyed by the pins (the first run pays ~20 s of download; later runs reuse it), plus the few modules their loaders
import that .venv lacks (qwen-vl-utils and decord for verl's video reading, omegaconf). They run in a child process
(tests/integration/export_loaders.py says what stands in at import time, and why). TRL's and the VideoKR JSONL load
with `datasets` here. The export is made, then moved to another folder, and read from another working directory.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from jobs import export, split
from train.synthetic import NAMES, write_video
from videokr.settings import Settings
from warehouse import Warehouse

REPO = Path(__file__).resolve().parents[2]
PINS = ("llamafactory==0.9.5", "verl==0.9.1", "qwen-vl-utils==0.0.14", "decord==0.6.0", "omegaconf==2.3.0",
        "antlr4-python3-runtime==4.9.3")
RESPONSE = re.compile(r"^<think>.+</think><answer>.+</answer>$", re.S)
VIDEOS = {f"vid{i}": "ABCD"[i % 4] for i in range(6)}


def tools_dir() -> Path:
    """The pinned tools, installed once per machine (and per pins and Python) under the temp folder."""
    key = hashlib.sha256(("\n".join(PINS) + sys.version).encode()).hexdigest()[:12]
    base = Path(os.environ.get("VIDEOKR_EXPORT_TOOLS_CACHE") or Path(tempfile.gettempdir()) / "videokr-export-tools")
    target = base / key
    if (target / ".complete").is_file():
        return target
    base.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{key}-", dir=base))
    subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "--disable-pip-version-check", "-q",
                    "--target", str(tmp), *PINS], check=True, timeout=900)
    (tmp / ".complete").write_text("\n".join(PINS) + "\n")
    try:
        os.replace(tmp, target)
    except OSError:            # another run finished first: use its folder
        shutil.rmtree(tmp, ignore_errors=True)
    return target


def _seed() -> int:
    """A split seed that puts videos on both sides (six videos: most seeds do)."""
    return next(s for s in range(100) if len({split.assign(v, s) for v in VIDEOS}) == 2)


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """Six real videos (moving coloured squares), two verified questions each, split, exported in every format,
    then the whole export folder moved elsewhere."""
    root = tmp_path_factory.mktemp("loaders")
    home = root / "home"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("VIDEOKR_HOME", str(home))
        settings = Settings.load()
        with Warehouse(settings) as wh:
            qa, downloads = [], []
            for vid, letter in VIDEOS.items():
                path = write_video(home / "media" / f"{vid}.mp4", letter)
                downloads.append({"video_id": vid, "subject_id": "physics", "path": str(path), "status": "ok"})
                base = {"video_id": vid, "subject_id": "physics", "kp_id": "kp-1", "skill": "basic_video_reasoning",
                        "question": "What colour is the moving square?"}
                qa += [base | {"candidate_id": f"qa-{vid}-mc", "problem_type": "multiple choice",
                               "options": [f"{k}. {v}" for k, v in NAMES.items()], "answer": letter,
                               "think": f"Every frame shows a {NAMES[letter]} square."},
                       base | {"candidate_id": f"qa-{vid}-open", "problem_type": "open-ended", "options": None,
                               "answer": NAMES[letter], "think": f"The square is {NAMES[letter]}."}]
            wh.write("verified_qa", qa, "test")
            wh.write("downloads", downloads, "test")
        split.run(settings, params={"seed": _seed()})
        made = export.run(settings, params={"out": str(root / "made")})
    moved = root / "elsewhere" / "exports"
    moved.parent.mkdir()
    shutil.move(root / "made", moved)
    folders = {fmt: moved / Path(folder).name for fmt, folder in made["exports"].items()}
    return {"root": root, "made": made, "folders": folders}


@pytest.fixture(scope="module")
def report(world):
    """LLaMA-Factory's and verl's loaders on the moved export, in a child process (see export_loaders.py)."""
    from train.tiny import build_tiny
    tools = tools_dir()
    processor = build_tiny("qwen2_5_vl", world["root"] / "tiny")
    scratch = world["root"] / "scratch"
    scratch.mkdir()
    env = dict(os.environ, PYTHONPATH=f"{REPO}{os.pathsep}{tools}", HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1",
               TRANSFORMERS_OFFLINE="1", OMP_NUM_THREADS="1", HF_HOME=str(scratch / "hf"))
    verl = world["folders"]["verl"]
    out = subprocess.run([sys.executable, str(REPO / "tests/integration/export_loaders.py"),
                          str(world["folders"]["llamafactory"]), str(verl), str(processor), str(scratch)],
                         cwd=verl, env=env, capture_output=True, text=True, timeout=600)
    line = next((x for x in out.stdout.splitlines() if x.startswith("REPORT ")), None)
    assert out.returncode == 0 and line, (out.stdout[-3000:], out.stderr[-6000:])
    return json.loads(line[len("REPORT "):])


def _manifest(folder: Path) -> dict:
    return json.loads((folder / "manifest.json").read_text())


def test_llamafactory_converts_every_row_and_reads_every_video(world, report):
    folder = world["folders"]["llamafactory"]
    files = _manifest(folder)["files"]
    lf = report["llamafactory"]
    assert set(lf) == {"videokr_sft", "videokr_rl"}
    for name, got in lf.items():
        n = files[got["file"]]["rows"]
        assert got["rows"] == n > 0, name                                    # no row dropped by the converter
        assert got["video_tokens"] == [1] * n and len(got["videos"]) == n    # one <video> per entry in videos
        assert got["roles"] == ["assistant", "user"]
        assert all(RESPONSE.match(r) for r in got["responses"])
        for v in got["videos"]:                                              # media_dir + relative path
            assert Path(v).is_file() and Path(v).parent == folder / "videos", v
        assert len(got["frames"]) == n and min(got["frames"]) >= 2          # decoded by its mm_plugin (PyAV)
    assert sum(g["rows"] for g in lf.values()) == sum(world["made"]["examples"].values())


def test_llamafactory_recipe_is_the_release_s(report):
    r = report["recipe"]
    assert r == {"stage": "sft", "finetuning_type": "full", "freeze_vision_tower": True,
                 "freeze_multi_modal_projector": True, "zero_stage": 3, "learning_rate": 1e-5,
                 "lr_scheduler_type": "cosine", "warmup": 0.02, "num_train_epochs": 1.0, "bf16": True,
                 "video_fps": 2.0, "video_maxlen": 128, "video_max_pixels": 100352, "cutoff_len": 16384,
                 "template": "qwen2_vl", "dataset": ["videokr_sft"], "dataset_dir": ".", "media_dir": "."}


def test_verl_rlhf_dataset_keeps_every_row_and_scores_with_our_reward(world, report):
    v, examples = report["verl"], world["made"]["examples"]
    assert v["reader"] == "decord"
    assert v["rows"] == examples["rl"] + examples["sft"]                     # none silently filtered out
    assert sorted(v["splits"]) == sorted(["rl"] * examples["rl"] + ["sft"] * examples["sft"])
    folder = world["folders"]["verl"]
    for entry in v["video_entries"]:
        assert {k: entry[k] for k in ("fps", "max_frames", "min_frames", "max_pixels", "min_pixels")} == \
            {"fps": 2.0, "max_frames": 128, "min_frames": 4, "max_pixels": 100352, "min_pixels": 100352}
        assert not Path(entry["video"]).is_absolute() and (folder / entry["video"]).resolve().is_file()
    assert len(v["video_entries"]) == v["rows"]
    right = {round(r, 6) for r, _ in v["rewards"]}
    assert 1.0 in right and all(0.1 < r <= 1.0 for r in right)          # MC exact; one-word ROUGE: 0.7
    assert {w for _, w in v["rewards"]} == {0.0}                         # no tags, wrong answer
    assert v["rows_with_torchvision_reader"] == 0                        # why the README asks for decord


def test_trl_and_videokr_jsonl_load_with_datasets_from_another_directory(world, tmp_path, monkeypatch):
    import datasets
    from trl.data_utils import is_conversational

    from train.data import load_jsonl
    monkeypatch.chdir(tmp_path)
    examples = world["made"]["examples"]
    for fmt in ("trl", "videokr"):
        folder = world["folders"][fmt]
        for split_name in ("sft", "rl"):
            ds = datasets.load_dataset("json", data_files=str(folder / f"{split_name}.jsonl"),
                                       cache_dir=str(tmp_path / "hf"), split="train")
            assert len(ds) == examples[split_name] > 0, (fmt, split_name)
            for row in ds:
                if fmt == "trl":
                    assert is_conversational(row)
                    turns = row["messages"] if split_name == "sft" else row["prompt"]
                    video = next(c["video"] for c in turns[0]["content"] if c["type"] == "video")
                else:
                    assert row["data_type"] == "video" and row["data_source"] == "videokr"
                    assert re.fullmatch(r"<answer>.+</answer>", row["solution"])
                    assert (row.get("process") is not None) == (split_name == "sft")
                    video = row["path"]
                assert not Path(video).is_absolute() and (folder / video).is_file()
    rows = [json.loads(x) for x in (world["folders"]["videokr"] / "sft.jsonl").read_text().splitlines()]
    assert list(rows[0])[:9] == ["problem_id", "problem", "data_type", "problem_type", "options", "process",
                                 "solution", "path", "data_source"]
    ex = load_jsonl(world["folders"]["videokr"] / "sft.jsonl")        # the project's trainer reads the same rows
    assert [e.problem_id for e in ex] == [r["problem_id"] for r in rows]
    assert all(Path(e.video_path).is_file() and e.think and "<think>" not in e.think for e in ex)
