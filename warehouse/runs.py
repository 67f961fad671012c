"""Stage run records: every stage run gets a `runs` row and stamps its `run_id` on every row it writes; failures
that only the orchestrator saw (timeouts, kills, callbacks) get a `runs` row too.

Durability at scale (a stage may run for days):
- `Run.chunk()` groups a bounded chunk of a stage's results, in every table it writes, with their ledger and
  quarantine rows and the items' fingerprints, into ONE transaction: a kill -9 loses at most the chunk in flight;
- a quarantine row outside a chunk is written at once (never held until the run ends);
- a run records its host and pid; the stage's next run marks a `running` run whose process is gone as failed;
- `fingerprints`/`fingerprint` let a stage skip items whose inputs did not change (change-only reruns, resume).
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import socket
import traceback
import uuid
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Callable, Iterator

log = logging.getLogger("videokr.runs")


def new_run_id(stage: str) -> str:
    now = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S")
    return f"{stage}-{now}-{uuid.uuid4().hex[:8]}"


def _now() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


def _one_line(text: str) -> str:
    """Control characters escaped (a hostile id with a newline or terminal escapes cannot forge log lines)."""
    return re.sub(r"[\x00-\x1f\x7f]", lambda m: f"\\x{ord(m.group()):02x}", str(text))


def fingerprint(*parts) -> str:
    """sha256 hex of the canonical JSON of `parts` (the inputs that decide an item's outputs)."""
    doc = json.dumps(parts, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(doc.encode()).hexdigest()


def file_sha256(path) -> str:
    """sha256 hex of a file's bytes (an input file's content, e.g. an export a job reads)."""
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


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
    skipped: int = 0                                   # items skipped because their fingerprint was unchanged
    deleted: int = 0                                   # rows this run deleted (stale or replaced), in any table
    _pending: list | None = field(default=None, repr=False)
    _after: list = field(default_factory=list, repr=False)

    def _count(self, table: str, counts: dict) -> None:
        self.rows[table] = self.rows.get(table, 0) + counts["inserted"]
        self.deleted += counts["deleted"]
        log.info("%s: %s inserted=%d deleted=%d unchanged=%d", self.run_id, table,
                 counts["inserted"], counts["deleted"], counts["unchanged"])

    def write(self, table: str, rows, scope: dict[str, list] | None = None,
              append: bool = False) -> dict[str, int] | None:
        """Write now, or, inside `chunk()`, when the chunk commits (then None is returned). `append`: a ledger whose
        keys the writer makes unique: the rows are inserted as they are, nothing is read or diffed."""
        if self._pending is not None:
            self._pending.append((table, rows, scope, append))
            return None
        counts = self.wh.write(table, rows, self.run_id, scope=scope, append=append)
        self._count(table, counts)
        return counts

    @property
    def changed(self) -> bool:
        """Did this run insert or delete any row other than its own bookkeeping? (No: downstream stays asleep.)"""
        return self.deleted > 0 or any(n for t, n in self.rows.items() if t not in ("quarantine", "llm_calls",
                                                                                   "api_usage", "item_fingerprints"))

    def after_commit(self, fn: Callable[[], None]) -> None:
        """Run `fn` once what was written so far is committed (now, outside a chunk)."""
        if self._pending is None:
            fn()
        else:
            self._after.append(fn)

    @contextmanager
    def chunk(self) -> Iterator["Run"]:
        """Every write (and quarantine row) inside the block lands in one transaction when the block ends; an
        exception drops the whole chunk, so an item's outputs, ledger rows and fingerprint come and go together."""
        if self._pending is not None:
            yield self                                 # nested: part of the outer chunk
            return
        self._pending, self._after = [], []
        try:
            yield self
            pending, after = self._pending, self._after
        finally:
            self._pending = None
        if pending:
            results = self.wh.write_many([(t, rows, self.run_id, scope, app) for t, rows, scope, app in pending])
            for (table, *_), counts in zip(pending, results):
                self._count(table, counts)
        for fn in after:
            fn()

    def quarantine(self, item: str, reason: str, detail: str = "") -> None:
        """Record a bad input item; the stage goes on. Written at once (or with the open chunk)."""
        log.error("%s: quarantined %s: %s %s", self.stage, *map(_one_line, (item, reason, detail[:2000])))
        row = {"stage": self.stage, "item": item, "reason": reason, "detail": detail[:2000], "quarantined_at": _now()}
        self.quarantined.append(row)
        self.write("quarantine", [row])

    def fingerprints(self, items: list[str]) -> dict[str, str]:
        """The committed fingerprints of this stage's `items` (item -> fingerprint)."""
        if not items:
            return {}
        df = self.wh.query("""SELECT item, fingerprint FROM item_fingerprints WHERE stage = ?
                              AND item IN (SELECT unnest(?::VARCHAR[]))""", [self.stage, list(items)])
        return dict(df.iter_rows())

    def mark_done(self, done: dict[str, tuple[str, str | None]]) -> None:
        """Record item -> (fingerprint, subject_id) for finished items (inside the chunk that holds their outputs)."""
        if done:
            self.write("item_fingerprints", [{"stage": self.stage, "item": i, "fingerprint": fp, "subject_id": s}
                                             for i, (fp, s) in done.items()])

    def forget(self, items: list[str], scopes: dict[str, str]) -> None:
        """Drop `items` (no longer inputs, e.g. videos no longer kept) from each table, scoped by its column, and
        their fingerprints, in one chunk."""
        if items:
            with self.chunk():
                for table, column in scopes.items():
                    self.write(table, [], scope={column: list(items)})
                self.write("item_fingerprints", [], scope={"stage": [self.stage], "item": list(items)})

    def record(self, status: str, error: str | None = None) -> dict:
        row = {"run_id": self.run_id, "stage": self.stage, "scope": json.dumps(self.scope, sort_keys=True),
               "params": json.dumps(self.params, sort_keys=True, default=str), "started": self.started,
               "finished": None if status == "running" else _now(),
               "rows_written": json.dumps(self.rows, sort_keys=True), "snapshot_id": None,
               "status": status, "error": error, "host": socket.gethostname(), "pid": os.getpid()}
        if status != "running":
            row["snapshot_id"] = self.wh.snapshot()
        self.wh.write("runs", [row], self.run_id)
        return row


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def reap_dead_runs(wh, stage: str) -> list[str]:
    """Mark `running` runs of `stage` on this host whose process is gone as failed (killed); returns their ids."""
    host = socket.gethostname()
    rows = wh.query("SELECT * FROM runs WHERE stage = ? AND status = 'running' AND host = ?", [stage, host]).to_dicts()
    dead = [r for r in rows if r["pid"] is not None and r["pid"] != os.getpid() and not _alive(int(r["pid"]))]
    for r in dead:
        r.update(status="failed", finished=_now(),
                 error=f"killed: process {r['pid']} on {host} ended without finishing the run")
        wh.write("runs", [r], r["run_id"])
        log.warning("%s: run %s was killed (process %s gone); marked failed", stage, r["run_id"], r["pid"])
    return [r["run_id"] for r in dead]


@contextmanager
def stage_run(wh, stage: str, scope: dict | None = None, params: dict | None = None,
              run_id: str | None = None) -> Iterator[Run]:
    reap_dead_runs(wh, stage)
    run = Run(wh, stage, scope or {}, params or {}, run_id or new_run_id(stage))
    run.record("running")
    try:
        yield run
    except BaseException as exc:
        try:
            run.record("failed", f"{type(exc).__name__}: {exc}\n{traceback.format_exc(limit=5)}"[:4000])
        except Exception as rec:  # noqa: BLE001 - e.g. the disk is still full: the stage's next run marks it failed
            log.error("%s: run %s failed (%s) and could not be recorded: %s", stage, run.run_id, exc, rec)
        raise
    run.record("success")


def record_task_failure(stage: str, task_id: str, airflow_run_id: str, try_number: int, error: str,
                        settings=None) -> str:
    """A `runs` row with status failed for an orchestrator-visible failure; returns its run_id."""
    from videokr.settings import Settings
    from warehouse import Warehouse
    now = _now()
    run_id = new_run_id(stage)
    with Warehouse(settings or Settings.load()) as wh:
        wh.write("runs", [{"run_id": run_id, "stage": stage, "scope": "{}",
                           "params": json.dumps({"airflow_run_id": airflow_run_id, "task_id": task_id,
                                                 "try_number": try_number}),
                           "started": now, "finished": now, "rows_written": "{}", "snapshot_id": wh.snapshot(),
                           "status": "failed", "error": f"airflow task {task_id} failed: {error}"[:4000]}], run_id)
    return run_id
