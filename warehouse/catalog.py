"""Connections to the DuckLake catalog.

The catalog URL picks the metadata store (`sqlite:<file>` embedded, `postgres:<dsn>` at scale) and the data
path picks where Parquet files live. Extensions are loaded from the pinned `duckdb-extension-*` packages'
files; nothing is ever downloaded (autoinstall and autoload are switched off).
"""
from __future__ import annotations

import importlib
import time
from pathlib import Path

import duckdb

from videokr.settings import Settings

LAKE = "lake"
_EXTENSIONS = {
    "ducklake": "duckdb_extension_ducklake",
    "sqlite_scanner": "duckdb_extension_sqlite_scanner",
    "postgres_scanner": "duckdb_extension_postgres_scanner",
}


def extension_file(name: str) -> Path:
    """Path of the `.duckdb_extension` file shipped inside the pinned package for `name`."""
    pkg = importlib.import_module(_EXTENSIONS[name])
    root = Path(pkg.__file__).parent / "extensions" / f"v{duckdb.__version__}"
    found = sorted(root.glob("*.duckdb_extension"))
    if not found:
        raise RuntimeError(f"extension {name!r}: no file for duckdb {duckdb.__version__} under {root}")
    return found[0]


def _load(con: duckdb.DuckDBPyConnection, name: str) -> None:
    try:
        con.execute(f"LOAD '{extension_file(name)}'")
    except ModuleNotFoundError as exc:  # optional backend not installed
        raise RuntimeError(f"extension {name!r} is not installed: pip install {_EXTENSIONS[name]}") from exc


def connect(settings: Settings, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    """A fresh in-memory DuckDB connection with the lake attached as `lake` and selected."""
    con = duckdb.connect(config={"autoinstall_known_extensions": False, "autoload_known_extensions": False})
    backend = settings.catalog_url.split(":", 1)[0]
    _load(con, "ducklake")
    _load(con, "postgres_scanner" if backend == "postgres" else "sqlite_scanner")
    if backend == "sqlite":
        Path(settings.catalog_url.split(":", 1)[1]).parent.mkdir(parents=True, exist_ok=True)
    if "://" not in settings.data_path:
        Path(settings.data_path).mkdir(parents=True, exist_ok=True)
    opts = [f"DATA_PATH '{settings.data_path}'"]
    if read_only:
        opts.append("READ_ONLY")
    for attempt in range(settings.write_retries):
        try:
            con.execute(f"ATTACH 'ducklake:{settings.catalog_url}' AS {LAKE} ({', '.join(opts)})")
            break
        except duckdb.Error as exc:
            if not is_conflict(exc) or attempt == settings.write_retries - 1:
                raise
            time.sleep(0.05 * 2**attempt)
    con.execute(f"USE {LAKE}")
    return con


def is_conflict(exc: BaseException) -> bool:
    """True for errors another writer causes: DuckLake commit conflicts and SQLite busy/locked catalogs."""
    text = str(exc).lower()
    return any(s in text for s in ("conflict", "database is locked", "busy", "could not commit", "retry"))


def snapshot_id(con: duckdb.DuckDBPyConnection) -> int:
    return int(con.execute(f"SELECT id FROM {LAKE}.current_snapshot()").fetchone()[0])


def last_change_snapshot(con: duckdb.DuckDBPyConnection, tables: list[str]) -> int:
    """The newest snapshot that changed any of `tables` (rows or schema). Reading at it gives the same rows as
    reading now, and it stays put while other tables (runs, ledgers) move on, so an export or a training run made
    from unchanged data keeps its identity across pipeline reruns."""
    named = con.execute(f"SELECT table_id, table_name FROM __ducklake_metadata_{LAKE}.ducklake_table "
                        "WHERE table_name IN (SELECT unnest(?))", [list(tables)]).fetchall()
    keys = {str(i) for i, _ in named} | {n for _, n in named} | {f"main.{n}" for _, n in named}
    latest = 0
    for sid, changes in con.execute(f"SELECT snapshot_id, changes FROM ducklake_snapshots('{LAKE}')").fetchall():
        touched = {str(v).strip('"') for vs in (changes or {}).values() for v in (vs or [])}
        if touched & keys:
            latest = max(latest, int(sid))
    return latest or snapshot_id(con)
