"""`videokr run`'s terminal side: progress lines built from the stages' own log lines, plain when not a TTY, and the
end summary folding a stage's partition runs into one row."""
from __future__ import annotations

import io
import json
import time
from datetime import datetime, timedelta
from types import SimpleNamespace

from videokr.cli.progress import Progress
from videokr.cli.summary import fold_stage_runs


def _rec(event: str, logger: str = "videokr.frames") -> dict:
    return {"event": event, "logger": logger, "level": "info"}


def test_plain_progress_lines_count_rate_eta_and_cost():
    out = io.StringIO()
    cost = {"llm_calls": 0, "usd": 0.0, "units": 0}
    with Progress(["frames"], out, tty=False, cost_fn=lambda: dict(cost), every_s=0.0, poll_s=60) as p:
        p.start_stage("frames")
        p.on_task("running", SimpleNamespace(task_id="work.run_stage", map_index=2))
        p.on_line(_rec("frames: 10/40 videos (0.5/s), 0 bad"), "frames/work.run_stage[2]")
        p.stages["frames"].counters["frames"].first_t -= 10          # as if the first count came 10 s ago
        p.stages["frames"].counters["frames"].first_done = 0
        p.on_line(_rec("not progress: 2026/12/07", logger="airflow.task"), None)    # other loggers are ignored
        line = p.line("frames")
        assert "partition 3" in line and "10/40 videos" in line and "ETA" in line
        cost.update(llm_calls=12, usd=0.5, units=300)
        p.end_stage("frames", "success")
    text = out.getvalue()
    assert text.splitlines()[0].startswith("▶ frames")
    final = text.splitlines()[-1]
    assert final.startswith("✔ frames") and "12 LLM calls $0.50" in final and "300 API units" in final


def test_a_trainers_loss_and_a_failed_stage_show():
    out = io.StringIO()
    with Progress(["train"], out, tty=False, every_s=0.0) as p:
        p.start_stage("train")
        p.on_line(_rec("train.sft: step 3/10 loss=2.3125 lr 1e-05", logger="videokr.launch"), None)
        assert "step 3/10" in p.line("train") and "loss 2.312" in p.line("train")
        p.end_stage("train", "failed")
    assert out.getvalue().splitlines()[-1].startswith("✘ train") and "failed" in out.getvalue().splitlines()[-1]


def test_summary_folds_partition_runs_into_one_row_per_stage():
    t0 = time.time()
    at = datetime.utcfromtimestamp(t0)
    results = [{"dag_id": "frames", "state": "success", "seconds": 12.0, "started": t0, "finished": t0 + 12},
               {"dag_id": "split", "state": "success", "seconds": 1.0, "started": t0 + 12, "finished": t0 + 13}]
    runs = [{"run_id": f"f{i}", "stage": "frames", "status": "success", "snapshot_id": 10 + i,
             "rows_written": json.dumps({"video_files": 3, "window_hashes": 5 + i}),
             "started": at + timedelta(seconds=1 + i)} for i in range(3)]
    runs.append({"run_id": "s", "stage": "split", "status": "success", "snapshot_id": 20,
                 "rows_written": json.dumps({"splits": 7}), "started": at + timedelta(seconds=12.5)})
    rows = {r["stage"]: r for r in fold_stage_runs(results, runs, {"f1": {"llm_calls": 2, "usd": 0.1}})}
    assert rows["frames"]["runs"] == 3 and rows["frames"]["rows"] == {"video_files": 9, "window_hashes": 18}
    assert rows["frames"]["snapshot"] == 12 and rows["frames"]["llm_calls"] == 2
    assert rows["split"]["rows"] == {"splits": 7} and rows["split"]["runs"] == 1
