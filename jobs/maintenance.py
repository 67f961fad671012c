"""Maintenance stage: warehouse upkeep (merge small files, expire old snapshots, delete unneeded files).

Not part of the pipeline chain: the `maintenance` DAG runs it daily, `videokr maintain` on demand. It covers the
whole catalog, so `subjects` is accepted (every stage takes it) and ignored. Snapshots that a training run, an
export or an evaluation refers to are never expired (see warehouse/upkeep.py).

Params (also `[maintenance]` in videokr.toml): older_than_hours (default 168: expire snapshots older than a
week), grace_hours (default 1: files stay that long after they stop being needed), keep_snapshots (extra ids to
keep), dry_run (report only).
"""
from __future__ import annotations

import logging

from videokr.settings import Settings
from warehouse import Warehouse, stage_run
from warehouse.upkeep import GRACE_HOURS, maintain

log = logging.getLogger("videokr.maintenance")

DEFAULT_OLDER_THAN_HOURS = 24 * 7


def _bool(v) -> bool:
    return v if isinstance(v, bool) else str(v).strip().lower() in ("1", "true", "yes", "on")


def run(settings: Settings | None = None, subjects: list[str] | None = None, params: dict | None = None) -> dict:
    """Run upkeep on the warehouse and record it as a `maintenance` run; returns the upkeep summary."""
    settings = settings or Settings.load()
    params = settings.section("maintenance") | dict(params or {})
    opts = {"older_than_hours": float(params.get("older_than_hours", DEFAULT_OLDER_THAN_HOURS)),
            "grace_hours": float(params.get("grace_hours", GRACE_HOURS)),
            "keep_snapshots": sorted(int(s) for s in params.get("keep_snapshots") or []),
            "dry_run": _bool(params.get("dry_run", False))}
    if opts["older_than_hours"] < 0 or opts["grace_hours"] < 0:
        raise ValueError(f"maintenance: older_than_hours and grace_hours must be >= 0, got {opts}")
    with Warehouse(settings) as wh, stage_run(wh, "maintenance", {}, opts) as r:
        summary = maintain(wh, set(opts["keep_snapshots"]), opts["older_than_hours"], opts["dry_run"],
                           grace_hours=opts["grace_hours"])
        log.info("maintenance: %s", {k: v for k, v in summary.items() if k not in ("expired", "orphaned_files")})
        return {"run_id": r.run_id, "stage": "maintenance", "rows": dict(r.rows)} | summary
