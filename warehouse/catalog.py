"""Connections to the DuckLake catalog.

The catalog URL picks the metadata store (`sqlite:<file>` embedded, `postgres:<dsn>` at scale) and the data
path picks where Parquet files live. Extensions are loaded from the pinned `duckdb-extension-*` packages'
files; nothing is ever downloaded (autoinstall and autoload are switched off).
"""
from __future__ import annotations

import importlib
import logging
import time
from pathlib import Path

import duckdb

from videokr.settings import Settings

log = logging.getLogger("videokr.warehouse")

LAKE = "lake"
_EXTENSIONS = {
    "ducklake": "duckdb_extension_ducklake",
    "sqlite_scanner": "duckdb_extension_sqlite_scanner",
    "postgres_scanner": "duckdb_extension_postgres_scanner",
}
BUSY_TIMEOUT_MS = 30_000   # how long a writer waits for another process's lock on a SQLite catalog
# DuckDB's own memory per connection (its buffer cache of Parquet data, hash tables, sorts): beyond it, joins,
# aggregates and sorts spill to temp files under the settings home instead of growing with the warehouse. Without a
# cap DuckDB takes up to 80% of the machine's memory, so a step's RSS grows with the data it has touched.
MEMORY_LIMIT = "4GB"
RETRY_SETTINGS = {"ducklake_max_retry_count": 20, "ducklake_retry_wait_ms": 100, "ducklake_retry_backoff": 1.5}


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
    cfg = settings.section("warehouse")
    opts = [f"DATA_PATH '{settings.data_path}'"]
    if read_only:
        opts.append("READ_ONLY")
    if backend == "sqlite":
        # META_* options reach the SQLite attach of the catalog file. A busy timeout makes a writer wait for
        # another process's lock instead of failing at once; WAL lets readers go on while one process writes.
        # WAL persists in the file, so a read-only attach (which cannot switch it) needs only the timeout.
        opts.append(f"META_BUSY_TIMEOUT {int(cfg.get('busy_timeout_ms', BUSY_TIMEOUT_MS))}")
        if not read_only:
            opts.append("META_JOURNAL_MODE 'WAL'")
    for attempt in range(settings.write_retries):
        try:
            con.execute(f"ATTACH 'ducklake:{settings.catalog_url}' AS {LAKE} ({', '.join(opts)})")
            break
        except duckdb.Error as exc:
            if not is_conflict(exc) or attempt == settings.write_retries - 1:
                raise
            time.sleep(0.05 * 2**attempt)
    con.execute(f"USE {LAKE}")
    con.execute(f"SET memory_limit = '{cfg.get('memory_limit', MEMORY_LIMIT)}'")
    spill = Path(settings.home) / "tmp" / "duckdb"
    try:
        spill.mkdir(parents=True, exist_ok=True)
        con.execute(f"SET temp_directory = '{spill}'")
    except OSError:  # a read-only or full home: DuckDB keeps its default spill place
        log.warning("warehouse: cannot use %s for spill files; DuckDB's default is used", spill)
    _set_retries(con, cfg)
    return con


def _set_retries(con: duckdb.DuckDBPyConnection, cfg: dict) -> None:
    """DuckLake's own commit retries (a commit that raced another writer on other tables is retried inside the
    extension). Only the settings this ducklake build has are set; `[warehouse]` in videokr.toml overrides."""
    have = {r[0] for r in con.execute("SELECT name FROM duckdb_settings() WHERE name LIKE 'ducklake_%'").fetchall()}
    for name, default in RETRY_SETTINGS.items():
        if name in have:
            con.execute(f"SET {name} = {type(default)(cfg.get(name.removeprefix('ducklake_'), default))}")


def is_conflict(exc: BaseException) -> bool:
    """True for errors another writer causes: DuckLake commit conflicts and SQLite busy/locked catalogs."""
    text = str(exc).lower()
    return any(s in text for s in ("conflict", "database is locked", "busy", "could not commit", "retry"))


def snapshot_id(con: duckdb.DuckDBPyConnection) -> int:
    return int(con.execute(f"SELECT id FROM {LAKE}.current_snapshot()").fetchone()[0])


# Change kinds of upkeep commits (flush, rewrite, merge): they reorganise files but change no rows, so a snapshot
# that carries one (a flush also reports the inlined deletes it wrote out as `tables_deleted_from`) is no change.
COMPACTION_CHANGES = ["flushed_inlined", "merge_adjacent", "rewrite_delete"]

# (table_name, snapshot_id) for every snapshot whose `changes` name a table by id, by name or as main.<name>
# (the forms DuckLake writes: table ids for data changes, qualified names for created tables).
_TABLE_CHANGES = f"""
    SELECT t.table_name, s.snapshot_id
    FROM (SELECT snapshot_id, trim(unnest(flatten(map_values(changes))), '"') AS touched
          FROM ducklake_snapshots('{LAKE}')
          WHERE NOT list_has_any(map_keys(changes), {COMPACTION_CHANGES})) s
    JOIN (SELECT DISTINCT table_name, unnest([table_id::VARCHAR, table_name, 'main.' || table_name]) AS key
          FROM __ducklake_metadata_{LAKE}.ducklake_table) t ON s.touched = t.key
"""


def last_change_snapshot(con: duckdb.DuckDBPyConnection, tables: list[str]) -> int:
    """The newest snapshot that changed any of `tables` (rows or schema). Reading at it gives the same rows as
    reading now, and it stays put while other tables (runs, ledgers) move on, so an export or a training run made
    from unchanged data keeps its identity across pipeline reruns, and across upkeep (file merges and flushes are
    not changes). One query; the current snapshot when no snapshot changed them."""
    return int(con.execute(
        f"""SELECT coalesce(nullif(max(snapshot_id), 0), (SELECT id FROM {LAKE}.current_snapshot()))
            FROM ({_TABLE_CHANGES}) WHERE table_name IN (SELECT unnest(?::VARCHAR[]))""",
        [list(tables)]).fetchone()[0])


def last_change_snapshots(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    """{table: newest snapshot that changed it} for every table the catalog has known (upkeep keeps these, so
    `last_change_snapshot` answers the same after old snapshots are expired)."""
    return {n: int(s) for n, s in con.execute(
        f"SELECT table_name, max(snapshot_id) FROM ({_TABLE_CHANGES}) GROUP BY table_name").fetchall()}
