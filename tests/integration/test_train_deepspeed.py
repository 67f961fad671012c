"""Opt-in: SFT under torchrun with DeepSpeed ZeRO-2 (VIDEOKR_TEST_DEEPSPEED=1; needs `pip install deepspeed`)."""
import importlib.util
import json
import os

import pytest

from train.launchers import TrainJob, run_local
from train.synthetic import write_dataset
from train.tiny import build_tiny

pytestmark = [pytest.mark.deepspeed,
              pytest.mark.skipif(os.environ.get("VIDEOKR_TEST_DEEPSPEED") != "1",
                                 reason="opt-in: set VIDEOKR_TEST_DEEPSPEED=1"),
              pytest.mark.skipif(importlib.util.find_spec("deepspeed") is None, reason="deepspeed not installed")]


@pytest.mark.parametrize("stage", ["zero2"])
def test_sft_zero_under_torchrun(tmp_path, stage):
    data = write_dataset(tmp_path / "export", n=4, sft=True)
    base = build_tiny("qwen2_5_vl", tmp_path / "base")
    gpus = max(2, int(os.environ.get("VIDEOKR_TEST_DEEPSPEED_PROCS", "2")))
    job = TrainJob("train.sft", {"model": str(base), "data": str(data), "out": str(tmp_path / "out"), "frames": 4,
                                 "max_steps": 3, "effective_batch": 2 * gpus, "per_device_batch": 2,
                                 "deepspeed": stage, "bf16": False},
                   gpus=gpus, env={"OMP_NUM_THREADS": "1", "ACCELERATE_USE_DEEPSPEED": "true"})
    res = run_local(job, timeout=900)
    summary = json.loads(res["stdout"].strip().splitlines()[-1])
    assert summary["global_step"] == 3 and summary["train_loss"] == summary["train_loss"]
    ran = json.loads((tmp_path / "out" / "videokr_run.json").read_text())
    assert (ran["world_size"], ran["zero_stage"]) == (gpus, 2)          # really ZeRO-2 across the processes
