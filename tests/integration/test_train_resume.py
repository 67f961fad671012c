"""Resume: SFT launched in a subprocess, killed with SIGKILL once a checkpoint is saved, launched again (what an
Airflow retry does) ends at the clean run's step count with the clean run's loss curve (same data order)."""
import json
import os
import re
import signal
import subprocess
import sys

import pytest

from train.launchers import TrainJob, command, job_env, run_local
from train.sft import SFTParams, run
from train.synthetic import write_dataset
from train.tiny import build_tiny
from videokr.settings import REPO_ROOT

STEPS, SAVE_EVERY = 6, 2
SAVED = re.compile(r"^\[sft\] checkpoint checkpoint-(\d+) saved", re.M)
STEP = re.compile(r"^\[sft\] step (\d+)/(\d+) .*\bloss ([0-9.e+-]+)", re.M)


def test_killed_sft_resumes_from_its_last_checkpoint(tmp_path):
    data = write_dataset(tmp_path / "export", n=8, sft=True)
    base = build_tiny("qwen2_5_vl", tmp_path / "base")
    args = dict(model=str(base), data=str(data), frames=4, max_steps=STEPS, save_steps=SAVE_EVERY, lr=2e-3,
                effective_batch=2, per_device_batch=2, warmup=0.0, lr_scheduler="constant", resume=True)
    clean = run(SFTParams(**args, out=str(tmp_path / "clean")))          # the reference: never interrupted
    assert clean["global_step"] == STEPS and len(clean["losses"]) == STEPS

    out = tmp_path / "killed"
    job = TrainJob("train.sft", {**args, "out": str(out)}, env={"OMP_NUM_THREADS": "1"})
    proc = subprocess.Popen(command(job, python=sys.executable), cwd=REPO_ROOT, env={**os.environ, **job_env(job)},
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    before = ""
    for line in proc.stdout:                        # kill -9 as soon as the first checkpoint is complete
        before += line
        if SAVED.match(line):
            os.kill(proc.pid, signal.SIGKILL)
            break
    proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL, before[-2000:]
    assert not (out / "videokr_run.json").exists()                      # it really did not finish
    steps_before = [int(m.group(1)) for m in STEP.finditer(before)]
    assert steps_before and steps_before[0] == 1 and steps_before[-1] < STEPS

    again = run_local(job, timeout=300, echo=False)                     # the same launch again (a task retry)
    resumed = re.search(r"^\[sft\] resuming from \S*checkpoint-(\d+)$", again["stdout"], re.M)
    assert resumed, again["stdout"][-2000:]
    k = int(resumed.group(1))
    assert k >= SAVE_EVERY and k % SAVE_EVERY == 0
    logged = [(int(m.group(1)), float(m.group(3))) for m in STEP.finditer(again["stdout"])]
    assert [s for s, _ in logged] == list(range(k + 1, STEPS + 1))      # continues at k+1, not at step 1
    summary = json.loads((out / "videokr_run.json").read_text())
    assert summary["global_step"] == clean["global_step"] == STEPS
    assert summary["resumed_from"].endswith(f"checkpoint-{k}")
    # same examples in the same order after the resume: the curve is the clean run's
    assert summary["loss_steps"] == list(range(1, STEPS + 1))
    assert summary["losses"] == pytest.approx(clean["losses"], rel=1e-4)
    assert [loss for _, loss in logged] == pytest.approx(clean["losses"][k:], rel=1e-4)


def test_resume_refuses_a_checkpoint_of_other_data(tmp_path):
    data = write_dataset(tmp_path / "export", n=4, sft=True)
    base = build_tiny("qwen2_5_vl", tmp_path / "base")
    args = dict(model=str(base), frames=4, save_steps=1, effective_batch=2, per_device_batch=2, resume=True,
                out=str(tmp_path / "out"))
    run(SFTParams(**args, data=str(data), max_steps=1))
    other = write_dataset(tmp_path / "other", n=6, sft=True)
    with pytest.raises(ValueError, match="data order changed.*data_sha256"):
        run(SFTParams(**args, data=str(other), max_steps=2))
