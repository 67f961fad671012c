"""Warehouse upkeep: keep a DuckLake that takes thousands of small scoped writes fast and bounded.

Every stage write is its own snapshot, and every snapshot keeps the Parquet files it saw, so without upkeep the
data folder grows by small files forever and the catalog by snapshots. `maintain` runs DuckLake's maintenance
functions (those CHECKPOINT runs), compaction first, and expires snapshots by an explicit list, not by age alone:

1. flush inlined data (tiny writes the catalog holds) into Parquet, so the SQLite/Postgres catalog stays small;
2. rewrite files whose rows were mostly deleted (a scoped rewrite deletes a subject's old rows), then merge
   adjacent small files. Rows keep their snapshot ids, so time travel to any remaining snapshot still works;
   these commits change no rows, and `catalog.last_change_snapshot` does not count them as changes;
3. expire snapshots older than the cut-off EXCEPT the ones the project must still read: every snapshot that a
   `train_runs`, `exports` or `eval_results` row names (so `AT (VERSION => n)` to what a model was trained or
   evaluated on keeps working), each table's newest change (so `last_change_snapshot` answers as before), the
   current one and any the caller names. Compacting first lets this pass expire the pre-compaction snapshots.
   A kept snapshot keeps the files of the whole lake as it was then (snapshots are catalog-wide), so a table that
   rarely changes pins an old state until it changes again: at most one such state per table;
4. delete files no remaining snapshot needs, and orphaned files no snapshot ever committed;
5. delete leftover partial downloads (`*.part`) under the settings home.

Files are only deleted once older than a grace period (default: one hour, never more than the cut-off): a query
that is still scanning a merged-away file, or a writer whose Parquet is written but not yet committed (an
"orphan" for a moment), must not lose it. `older_than_hours=0` removes everything at once; use it only when no
other process is working on the warehouse (tests, a quiet deployment).
"""
from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path

import duckdb

from warehouse import catalog
from warehouse.catalog import LAKE
from warehouse.writes import transaction

log = logging.getLogger("videokr.upkeep")

# Tables whose rows name a snapshot that must stay readable (column holding the snapshot id).
REFERENCING = {"train_runs": "snapshot_id", "exports": "snapshot_id", "eval_results": "snapshot_id"}
PARTIAL_PATTERNS = ("*.part", "*.part-Frag*")   # yt-dlp and other downloaders' unfinished files
GRACE_HOURS = 1.0


def maintain(wh_or_con, keep_snapshots: set[int] | None = None, older_than_hours: float = 24 * 7,
             dry_run: bool = False, *, grace_hours: float = GRACE_HOURS, home: Path | str | None = None) -> dict:
    """Merge, expire and clean the lake; return what it did (file and snapshot counts, expired and kept ids).

    `wh_or_con`: a `Warehouse` (its settings home is swept for partial files) or a DuckDB connection with the
    lake attached as `lake` (pass `home` to sweep). `dry_run`: change nothing, report what would go."""
    t0 = time.monotonic()
    con, home, retries = _resolve(wh_or_con, home)
    grace_s = max(0.0, min(grace_hours, older_than_hours)) * 3600
    data_path = con.execute(f"SELECT data_path FROM ducklake_settings('{LAKE}')").fetchone()[0]
    files_before, snaps_before = parquet_files(con, data_path), _snapshot_ids(con)

    def step(fn: Callable[[], object]):
        return transaction(con, fn, retries)

    flushed = 0 if dry_run else step(lambda: _sum(con, f"FROM ducklake_flush_inlined_data('{LAKE}')", 2))
    rewritten = {} if dry_run else step(lambda: _compact(con, "ducklake_rewrite_data_files"))
    merged = {} if dry_run else step(lambda: _compact(con, "ducklake_merge_adjacent_files"))
    protected = protected_snapshots(con, keep_snapshots)
    cutoff = time.time() - older_than_hours * 3600
    old = [s for (s,) in con.execute(f"SELECT snapshot_id FROM ducklake_snapshots('{LAKE}') "
                                     "WHERE epoch(snapshot_time) < ? ORDER BY 1", [cutoff]).fetchall()]
    to_expire = [s for s in old if s not in protected]
    expired = step(lambda: _expire(con, to_expire, dry_run)) if to_expire else []
    cleaned = step(lambda: _delete_files(con, "ducklake_cleanup_old_files", grace_s, dry_run))
    orphans = step(lambda: _delete_files(con, "ducklake_delete_orphaned_files", grace_s, dry_run))
    partial = sweep_partial(home, grace_s, dry_run) if home else []

    summary = {
        "dry_run": dry_run, "older_than_hours": older_than_hours,
        "files_before": files_before, "files_after": parquet_files(con, data_path),
        "snapshots_before": len(snaps_before), "snapshots_after": len(_snapshot_ids(con)),
        "expired": expired, "kept": sorted(set(old) & protected),
        "flushed_rows": flushed, "rewritten": rewritten, "merged": merged, "cleaned_files": len(cleaned),
        "orphaned_files": orphans, "partial_files": partial,
        "seconds": round(time.monotonic() - t0, 3),
    }
    log.info("upkeep%s: files %s -> %s, snapshots %d -> %d, expired %d, kept %d old, %d orphans, %d partial",
             " (dry run)" if dry_run else "", summary["files_before"], summary["files_after"],
             summary["snapshots_before"], summary["snapshots_after"], len(expired), len(summary["kept"]),
             len(orphans), len(partial))
    return summary


def protected_snapshots(con: duckdb.DuckDBPyConnection, extra: set[int] | None = None) -> set[int]:
    """Snapshots that must survive expiry: referenced by training/export/eval rows, each table's newest change,
    the current one, and `extra`."""
    have = {r[0] for r in con.execute("SELECT table_name FROM duckdb_tables() WHERE database_name = ?",
                                      [LAKE]).fetchall()}
    refs = [f'SELECT "{col}" FROM "{t}" WHERE "{col}" IS NOT NULL' for t, col in REFERENCING.items() if t in have]
    ids = {int(r[0]) for r in con.execute(" UNION ".join(refs)).fetchall()} if refs else set()
    ids |= set(catalog.last_change_snapshots(con).values())
    ids |= {catalog.snapshot_id(con)} | {int(s) for s in (extra or ())}
    return ids


def parquet_files(con: duckdb.DuckDBPyConnection, data_path: str) -> int | None:
    """Parquet files under the data path (None where the path cannot be listed, e.g. an unloaded object store)."""
    try:
        return int(con.execute("SELECT count(*) FROM glob(?)",
                               [data_path.rstrip("/") + "/**/*.parquet"]).fetchone()[0])
    except duckdb.Error:
        return None


def sweep_partial(home: Path | str, grace_s: float, dry_run: bool) -> list[str]:
    """Partial-download files under `home` untouched for `grace_s` seconds: deleted (unless dry run), listed."""
    limit = time.time() - grace_s
    found = sorted({p for pat in PARTIAL_PATTERNS for p in Path(home).rglob(pat)
                    if p.is_file() and p.stat().st_mtime <= limit})
    if not dry_run:
        for p in found:
            p.unlink(missing_ok=True)
    return [str(p) for p in found]


def _resolve(wh_or_con, home) -> tuple[duckdb.DuckDBPyConnection, Path | None, int]:
    if isinstance(wh_or_con, duckdb.DuckDBPyConnection):
        return wh_or_con, Path(home) if home else None, 8
    settings = wh_or_con.settings
    return wh_or_con.con, Path(home or settings.home), settings.write_retries


def _snapshot_ids(con: duckdb.DuckDBPyConnection) -> list[int]:
    return [r[0] for r in con.execute(f"SELECT snapshot_id FROM ducklake_snapshots('{LAKE}') ORDER BY 1").fetchall()]


def _sum(con: duckdb.DuckDBPyConnection, sql: str, col: int) -> int:
    return int(sum(r[col] or 0 for r in con.execute(sql).fetchall()))


def _compact(con: duckdb.DuckDBPyConnection, fn: str) -> dict[str, list[int]]:
    """{table: [files processed, files created]} of a DuckLake compaction function, tables it changed only."""
    return {t: [int(p), int(c)] for t, p, c in con.execute(
        f"SELECT table_name, files_processed, files_created FROM {fn}('{LAKE}') WHERE files_processed > 0")
        .fetchall()}


def _expire(con: duckdb.DuckDBPyConnection, versions: list[int], dry_run: bool) -> list[int]:
    rows = con.execute(f"SELECT snapshot_id FROM ducklake_expire_snapshots('{LAKE}', versions => ?::UBIGINT[], "
                       f"dry_run => {str(dry_run).lower()}) ORDER BY 1", [versions]).fetchall()
    return [int(r[0]) for r in rows]


def _delete_files(con: duckdb.DuckDBPyConnection, fn: str, grace_s: float, dry_run: bool) -> list[str]:
    """Run a DuckLake file-deletion function; files scheduled (or, for orphans, written) within the grace stay."""
    if grace_s <= 0:
        age, params = "cleanup_all => true", []
    else:
        before = time.time() - grace_s
        if fn == "ducklake_cleanup_old_files" and _catalog_type(con) == "sqlite":
            # On a SQLite catalog DuckLake compares schedule times as text ('2026-01-02 10:00+00' against
            # '2026-01-02T09:00+00'), so every file scheduled on the cut-off's own day counts as older. Cut at the
            # end of the previous UTC day instead: correct, and at most a day more conservative.
            before = before - before % 86400 - 1e-6
        age, params = "older_than => to_timestamp(?)", [before]
    rows = con.execute(f"SELECT path FROM {fn}('{LAKE}', {age}, dry_run => {str(dry_run).lower()}) ORDER BY 1",
                       params).fetchall()
    return [r[0] for r in rows]


def _catalog_type(con: duckdb.DuckDBPyConnection) -> str:
    return con.execute(f"SELECT catalog_type FROM ducklake_settings('{LAKE}')").fetchone()[0]
