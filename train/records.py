"""`train_runs` rows from the run summaries that train.sft / train.grpo write (`<out>/videokr_run.json`)."""
from __future__ import annotations

import json
import os
from datetime import datetime, timezone
from pathlib import Path

from train.common import file_sha256


def train_run_row(summary: dict, launcher: str = "local", status: str = "success", error: str | None = None) -> dict:
    p = summary.get("params", {})
    manifest = summary.get("manifest") or {}
    data = p.get("data")
    rewards = summary.get("rewards") or []
    return {"train_run_id": summary.get("train_run_id") or Path(p.get("out", "")).resolve().name,
            "kind": summary.get("kind"), "base_model": p.get("model"), "data_path": data,
            "data_sha256": file_sha256(data) if data and Path(data).is_file() else None,
            "manifest_path": manifest.get("_path"), "snapshot_id": manifest.get("snapshot_id"),
            "split_seed": manifest.get("split_seed", manifest.get("seed")), "launcher": launcher,
            "params": json.dumps(p, sort_keys=True, default=str), "output_dir": summary.get("output_dir"),
            "global_step": summary.get("global_step"), "train_loss": summary.get("train_loss"),
            "final_reward": rewards[-1] if rewards else None, "examples": summary.get("examples"),
            "seconds": summary.get("seconds"), "status": status, "error": error,
            "finished_at": datetime.now(timezone.utc).replace(tzinfo=None)}


def record_train_run(summary: dict | str | Path, wh=None, settings=None, launcher: str | None = None) -> dict:
    """Write one train_runs row (merge by train_run_id) inside a `train` stage run. The launcher defaults to the
    one that started this process (VIDEOKR_LAUNCHER, set by train.launchers), else local."""
    from warehouse import Warehouse, stage_run
    if not isinstance(summary, dict):
        path = Path(summary)
        summary = json.loads((path / "videokr_run.json" if path.is_dir() else path).read_text())
    wh = wh or Warehouse(settings)
    row = train_run_row(summary, launcher or os.environ.get("VIDEOKR_LAUNCHER") or "local")
    with stage_run(wh, f"train_{summary.get('kind')}", params={"train_run_id": row["train_run_id"]}) as run:
        counts = run.write("train_runs", [row])
    return {"run_id": run.run_id, "train_run_id": row["train_run_id"], "rows": counts}
