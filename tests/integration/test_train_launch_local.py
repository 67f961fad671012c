"""The local launcher really runs `python -m train.sft` (a subprocess) on a tiny model and records the run."""
import json

from train.evaluate import evaluate
from train.launchers import TrainJob, run_local
from train.synthetic import write_dataset
from train.tiny import build_tiny


def test_local_launcher_trains_then_evaluates(tmp_path, home):
    data = write_dataset(tmp_path / "export", n=4, sft=True)
    base = build_tiny("qwen2_5_vl", tmp_path / "base")
    out = tmp_path / "sft"
    sft = run_local(TrainJob("train.sft", {"model": str(base), "data": str(data), "out": str(out), "frames": 4,
                                           "max_steps": 2, "effective_batch": 2, "per_device_batch": 2,
                                           "record": True}, env={"OMP_NUM_THREADS": "1"}), timeout=300)
    summary = json.loads(sft["stdout"].strip().splitlines()[-1])
    assert summary["kind"] == "sft" and summary["global_step"] == 2
    assert (out / "videokr_run.json").is_file() and (out / "model.safetensors").is_file()
    from warehouse import Warehouse
    with Warehouse() as wh:                                           # the subprocess recorded into VIDEOKR_HOME
        assert wh.query("SELECT kind, global_step FROM train_runs").to_dicts() == [{"kind": "sft",
                                                                                    "global_step": 2}]
    res = evaluate(str(out), [str(data)], frames=(4,), max_new_tokens=4)  # the trained output loads and scores
    assert next(r for r in res["rows"] if r["group_by"] == "overall")["n"] == 4
