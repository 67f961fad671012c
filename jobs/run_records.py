"""Run records written from outside a job: failures that the orchestrator saw (timeouts, kills, callbacks)."""
from __future__ import annotations

import json

from videokr.settings import Settings
from warehouse import Warehouse
from warehouse.runs import new_run_id


def record_task_failure(stage: str, task_id: str, airflow_run_id: str, try_number: int, error: str,
                        settings: Settings | None = None) -> str:
    """A `runs` row with status failed for an orchestrator-visible failure; returns its run_id."""
    from datetime import datetime, timezone
    now = datetime.now(timezone.utc).replace(tzinfo=None)
    run_id = new_run_id(stage)
    with Warehouse(settings or Settings.load()) as wh:
        wh.write("runs", [{"run_id": run_id, "stage": stage, "scope": "{}",
                           "params": json.dumps({"airflow_run_id": airflow_run_id, "task_id": task_id,
                                                 "try_number": try_number}),
                           "started": now, "finished": now, "rows_written": "{}", "snapshot_id": wh.snapshot(),
                           "status": "failed", "error": f"airflow task {task_id} failed: {error}"[:4000]}], run_id)
    return run_id
