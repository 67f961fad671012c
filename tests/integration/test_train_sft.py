"""SFT on a tiny Qwen2.5-VL (CPU): the loss falls over 20 steps; checkpoints resume; train_runs records the run."""
import json
from pathlib import Path

import pytest

from train.records import record_train_run
from train.sft import SFTParams, run
from train.synthetic import write_dataset
from train.tiny import build_tiny


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    root = tmp_path_factory.mktemp("sft")
    data = write_dataset(root / "export", n=8, sft=True)
    (root / "export" / "manifest.json").write_text(json.dumps({"snapshot_id": 42, "split_seed": 7}))
    return {"root": root, "data": data, "base": build_tiny("qwen2_5_vl", root / "base")}


def params(world, out, **kw):
    base = dict(model=str(world["base"]), data=str(world["data"]), out=str(world["root"] / out), frames=4,
                lr=2e-3, effective_batch=4, per_device_batch=4, warmup=0.0, lr_scheduler="constant")
    return SFTParams(**{**base, **kw})


def test_sft_loss_falls_and_records(world, wh):
    s = run(params(world, "sft", max_steps=20, save_steps=10))
    losses = s["losses"]
    assert len(losses) == 20 and all(l == l for l in losses)
    assert sum(losses[-3:]) / 3 < 0.7 * sum(losses[:3]) / 3          # clearly falling
    out = Path(s["output_dir"])
    assert (out / "model.safetensors").is_file() and (out / "processor_config.json").is_file()
    assert (out / "checkpoint-10").is_dir() and (out / "checkpoint-20").is_dir()
    assert s["snapshot_id"] == 42
    rec = record_train_run(out, wh=wh)
    row = wh.query("SELECT * FROM train_runs").to_dicts()
    assert len(row) == 1 and row[0]["kind"] == "sft" and row[0]["snapshot_id"] == 42
    assert row[0]["split_seed"] == 7 and row[0]["global_step"] == 20 and row[0]["examples"] == 8
    assert json.loads(row[0]["params"])["lr"] == 2e-3
    again = record_train_run(out, wh=wh)                              # idempotent by train_run_id
    assert wh.query("SELECT count(*) AS n FROM train_runs")["n"][0] == 1
    assert rec["train_run_id"] == again["train_run_id"]


def test_sft_resumes_from_last_checkpoint(world):
    first = run(params(world, "resume", max_steps=4, save_steps=2))
    assert first["global_step"] == 4
    second = run(params(world, "resume", max_steps=6, save_steps=2, resume=True))
    assert second["resumed_from"].endswith("checkpoint-4")
    assert second["global_step"] == 6
    assert second["losses"][:4] == first["losses"] and len(second["losses"]) == 6   # history restored, 2 new steps
