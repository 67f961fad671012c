"""Warehouse upkeep on a real DuckLake (SQLite catalog, local Parquet): small files merge, unreferenced snapshots
expire, referenced ones stay readable by time travel; the catalog runs in WAL with a busy timeout."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import duckdb
import pytest

from videokr.settings import REPO_ROOT, Settings
from warehouse import Warehouse, catalog
from warehouse.upkeep import maintain, parquet_files

WRITES = 50


def _split_rows(i: int) -> list[dict]:
    # more rows than DuckLake's inlining limit (10), so every write lands in its own Parquet file
    return [{"video_id": f"v{i % 5}-{j}", "subject_id": f"s{i % 5}", "split": "sft" if (i + j) % 2 else "rl",
             "seed": i, "ratio": 0.64, "bucket": j / 20, "examples": i + j} for j in range(11 + i % 4)]


def _state(wh: Warehouse, at: int | None = None) -> tuple:
    at_sql = f" AT (VERSION => {at})" if at is not None else ""
    return wh.con.execute(f"SELECT count(*), sum(examples), sum(seed) FROM splits{at_sql}").fetchone()


def _tracked_files(wh: Warehouse) -> int:
    m = "__ducklake_metadata_lake"
    return wh.con.execute(f"SELECT (SELECT count(*) FROM {m}.ducklake_data_file) "
                          f"+ (SELECT count(*) FROM {m}.ducklake_delete_file)").fetchone()[0]


def old_last_change_snapshot(con, tables: list[str]) -> int:
    """The Python loop `catalog.last_change_snapshot` replaced, kept here as the reference."""
    named = con.execute("SELECT table_id, table_name FROM __ducklake_metadata_lake.ducklake_table "
                        "WHERE table_name IN (SELECT unnest(?))", [list(tables)]).fetchall()
    keys = {str(i) for i, _ in named} | {n for _, n in named} | {f"main.{n}" for _, n in named}
    latest = 0
    for sid, changes in con.execute("SELECT snapshot_id, changes FROM ducklake_snapshots('lake')").fetchall():
        touched = {str(v).strip('"') for vs in (changes or {}).values() for v in (vs or [])}
        if touched & keys:
            latest = max(latest, int(sid))
    return latest or catalog.snapshot_id(con)


@pytest.fixture
def history(wh):
    """50 small scoped writes to `splits`; returns [(snapshot, state after it)]."""
    snaps = []
    for i in range(WRITES):
        wh.write("splits", _split_rows(i), f"w{i}", scope={"subject_id": [f"s{i % 5}"]})
        snaps.append((wh.snapshot(), _state(wh)))
    return snaps


def test_maintain_merges_expires_and_keeps_referenced_snapshots(wh, settings, history):
    exported, trained, evaluated, unreferenced = history[3], history[11], history[17], history[25]
    wh.write("exports", [{"export_id": "videokr-early", "format": "videokr", "snapshot_id": exported[0]}], "exp")
    wh.write("train_runs", [{"train_run_id": "sft-early", "kind": "sft", "snapshot_id": trained[0]}], "tr")
    wh.write("eval_results", [{"eval_id": "e", "dataset": "d", "frames": 16, "group_by": "overall",
                               "group_value": "", "snapshot_id": evaluated[0]}], "ev")
    part = settings.home / "downloads" / "abc.mp4.part"
    part.parent.mkdir()
    part.write_bytes(b"half a video")
    now = wh.query("SELECT * FROM splits ORDER BY ALL")
    data_snapshot = wh.data_snapshot(["splits"])
    files = parquet_files(wh.con, settings.data_path)
    assert files >= WRITES

    dry = maintain(wh, older_than_hours=0, dry_run=True)
    assert parquet_files(wh.con, settings.data_path) == files and part.exists()
    assert unreferenced[0] in dry["expired"] and dry["partial_files"] == [str(part)]
    assert _state(wh, unreferenced[0]) == unreferenced[1]   # a dry run expires nothing

    s = maintain(wh, older_than_hours=0)
    print("upkeep:", json.dumps({k: v for k, v in s.items() if k not in ("expired", "kept")}),
          f"expired={len(s['expired'])} kept={s['kept']}")
    assert s["files_before"] == files and s["files_after"] == parquet_files(wh.con, settings.data_path)
    # files live at the referenced snapshots (and at each table's newest change) stay; the rest go or merge
    assert s["files_after"] < 0.7 * files, s
    assert s["files_after"] == _tracked_files(wh)                   # nothing on disk the catalog does not know
    assert s["snapshots_after"] < s["snapshots_before"] / 3, s
    assert {exported[0], trained[0], evaluated[0]} <= set(s["kept"])
    for snap, state in (exported, trained, evaluated):           # time travel to referenced snapshots still works
        assert _state(wh, snap) == state
    assert unreferenced[0] in s["expired"]
    with pytest.raises(duckdb.Error, match="[Ss]napshot"):
        _state(wh, unreferenced[0])
    assert wh.query("SELECT * FROM splits ORDER BY ALL").equals(now)   # current data unchanged
    assert wh.data_snapshot(["splits"]) == data_snapshot             # export identity survives the merge
    assert old_last_change_snapshot(wh.con, ["splits"]) > data_snapshot  # (the old loop counted the merge commit)
    assert _state(wh, data_snapshot) == history[-1][1]
    assert s["partial_files"] == [str(part)] and not part.exists()
    assert s["rewritten"] and s["merged"] and s["cleaned_files"] > 0

    again = maintain(wh, older_than_hours=0)                          # idempotent: nothing left to do
    assert again["files_after"] == s["files_after"] and again["partial_files"] == []
    assert _state(wh, exported[0]) == exported[1]


def test_a_week_cut_off_keeps_recent_snapshots_and_young_files(wh):
    history = []
    for i in range(12):
        wh.write("splits", _split_rows(i), f"w{i}", scope={"subject_id": [f"s{i % 5}"]})
        history.append((wh.snapshot(), _state(wh)))
    s = maintain(wh)                                                  # default: older than 7 days, 1 h grace
    assert s["expired"] == [] and s["cleaned_files"] == 0 and s["orphaned_files"] == []
    assert all(_state(wh, snap) == state for snap, state in history)


def test_last_change_snapshot_is_the_old_loop_in_one_query(wh):
    con = wh.con
    cases = [["splits"], ["videos"], ["splits", "videos"], ["runs"], ["no_such_table"], [],
             ["exports", "train_runs", "splits"]]

    def check():
        for tables in cases:
            assert catalog.last_change_snapshot(con, tables) == old_last_change_snapshot(con, tables), tables

    check()                                                           # fresh catalog: only creations
    wh.write("splits", _split_rows(0), "a", scope={"subject_id": ["s0"]})
    wh.write("runs", [{"run_id": "r", "stage": "t"}], "r")             # inlined (tiny) write
    check()
    wh.write("videos", [{"video_id": "x", "title": "t"}], "v")
    wh.write("splits", [], "b", scope={"subject_id": ["s0"]})          # a delete only
    check()
    con.execute("ALTER TABLE exports ADD COLUMN extra_note VARCHAR")  # a schema change
    check()
    assert catalog.last_change_snapshots(con)["exports"] == catalog.snapshot_id(con)


def test_catalog_waits_for_a_locked_sqlite_file(settings):
    """Another process holds the catalog's write lock for a moment: a writer waits (busy timeout) instead of
    failing; with a tiny timeout and no retries it fails, which shows the timeout is what made it wait."""
    def locked_write(s: Settings, run_id: str) -> float:
        with Warehouse(s) as w:
            w.snapshot()  # attach (and create the schema) before the lock is taken
            path = s.catalog_url.split(":", 1)[1]
            holder = subprocess.Popen([sys.executable, "-c", (
                "import sqlite3, sys, time; c = sqlite3.connect(sys.argv[1], isolation_level=None); "
                "c.execute('BEGIN EXCLUSIVE'); print('locked', flush=True); time.sleep(1.5); c.execute('COMMIT')"),
                path], stdout=subprocess.PIPE, text=True)
            try:
                assert holder.stdout.readline().strip() == "locked"
                t0 = time.monotonic()
                w.write("runs", [{"run_id": run_id, "stage": "t"}], run_id)
                return time.monotonic() - t0
            finally:
                holder.wait(10)

    assert locked_write(settings, "patient") >= 1.0
    with open(settings.catalog_url.split(":", 1)[1], "rb") as f:
        assert f.read(20)[18:20] == b"\x02\x02"                       # WAL, persisted in the file header
    impatient = Settings(home=settings.home, write_retries=1,
                         extra={"warehouse": {"busy_timeout_ms": 100, "max_retry_count": 0}})
    with pytest.raises(duckdb.Error, match="locked"):
        locked_write(impatient, "impatient")


def test_cli_maintain(tmp_path):
    env = {**os.environ, "VIDEOKR_HOME": str(tmp_path / "home"), "PYTHONPATH": str(REPO_ROOT)}
    env.pop("VIDEOKR_CATALOG_URL", None)
    env.pop("VIDEOKR_DATA_PATH", None)
    out = subprocess.run([sys.executable, "-m", "videokr.cli", "maintain"], capture_output=True, text=True,
                         env=env, cwd=tmp_path, timeout=120, check=False)
    assert out.returncode == 0, out.stderr[-3000:]
    summary = json.loads(out.stdout)
    assert summary["stage"] == "maintenance" and summary["dry_run"] is False
    assert {"files_before", "files_after", "snapshots_before", "snapshots_after", "expired", "kept",
            "seconds"} <= set(summary)
    with Warehouse(Settings(home=tmp_path / "home"), read_only=True) as w:
        runs = w.query("SELECT stage, status FROM runs WHERE run_id = ?", [summary["run_id"]]).to_dicts()
    assert runs == [{"stage": "maintenance", "status": "success"}]
