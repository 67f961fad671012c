"""Stage run records: every stage run gets a `runs` row and stamps its `run_id` on every row it writes."""
from __future__ import annotations

import json
import logging
import traceback
import uuid
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Iterator

log = logging.getLogger("videokr.runs")


def new_run_id(stage: str) -> str:
    now = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S")
    return f"{stage}-{now}-{uuid.uuid4().hex[:8]}"


def _now() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


@dataclass
class Run:
    """One stage run. Use `write` for every table write so counts and run ids are recorded."""
    wh: "object"
    stage: str
    scope: dict
    params: dict
    run_id: str
    started: datetime = field(default_factory=_now)
    rows: dict[str, int] = field(default_factory=dict)
    quarantined: list[dict] = field(default_factory=list)

    def write(self, table: str, rows, scope: dict[str, list] | None = None) -> dict[str, int]:
        counts = self.wh.write(table, rows, self.run_id, scope=scope)
        self.rows[table] = self.rows.get(table, 0) + counts["inserted"]
        log.info("%s: %s inserted=%d deleted=%d unchanged=%d", self.run_id, table,
                 counts["inserted"], counts["deleted"], counts["unchanged"])
        return counts

    def quarantine(self, item: str, reason: str, detail: str = "") -> None:
        """Record a bad input item; the stage goes on. Written to `quarantine` when the run ends."""
        log.error("%s: quarantined %s: %s %s", self.stage, item, reason, detail)
        self.quarantined.append({"stage": self.stage, "item": item, "reason": reason,
                                 "detail": detail[:2000], "quarantined_at": _now()})

    def record(self, status: str, error: str | None = None) -> dict:
        row = {"run_id": self.run_id, "stage": self.stage, "scope": json.dumps(self.scope, sort_keys=True),
               "params": json.dumps(self.params, sort_keys=True, default=str), "started": self.started,
               "finished": None if status == "running" else _now(),
               "rows_written": json.dumps(self.rows, sort_keys=True), "snapshot_id": None,
               "status": status, "error": error}
        if status != "running":
            row["snapshot_id"] = self.wh.snapshot()
        self.wh.write("runs", [row], self.run_id)
        return row


@contextmanager
def stage_run(wh, stage: str, scope: dict | None = None, params: dict | None = None,
              run_id: str | None = None) -> Iterator[Run]:
    run = Run(wh, stage, scope or {}, params or {}, run_id or new_run_id(stage))
    run.record("running")
    try:
        yield run
    except BaseException as exc:
        _flush_quarantine(run)
        run.record("failed", f"{type(exc).__name__}: {exc}\n{traceback.format_exc(limit=5)}"[:4000])
        raise
    _flush_quarantine(run)
    run.record("success")


def _flush_quarantine(run: Run) -> None:
    if run.quarantined:
        rows = {(q["stage"], q["item"]): q for q in run.quarantined}  # last reason per item wins
        run.write("quarantine", list(rows.values()))
