"""The table registry: one DDL file per table in `sql/schema/`.

Each file starts with comment headers that the write API relies on:

    -- table: knowledge_points
    -- key: kp_id                 natural key (merge and diff by it)
    -- scope: subject_id          optional: the column a stage's scope (subjects) filters on
    -- doc: one line for analysts

`ensure_schema` creates missing tables and adds columns that the DDL declares but the lake lacks (additive
migration), then runs each data migration in `sql/migrations/` once (recorded in schema_versions). Views in `sql/views/` are (re)created afterwards, and the files' descriptions become catalog comments
(warehouse/docs.py).
"""
from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import duckdb

from videokr.settings import SQL_DIR


@dataclass(frozen=True)
class Table:
    name: str
    ddl: str
    key: tuple[str, ...]
    scope: str | None
    doc: str
    columns: tuple[tuple[str, str], ...]  # (name, type) in DDL order


def _header(text: str, name: str) -> str | None:
    m = re.search(rf"^--\s*{name}:\s*(.+)$", text, re.M)
    return m.group(1).strip() if m else None


def _columns(ddl: str) -> tuple[tuple[str, str], ...]:
    con = duckdb.connect()
    con.execute(ddl)
    name = con.execute("SELECT table_name FROM duckdb_tables()").fetchone()[0]
    return tuple((r[0], r[1]) for r in con.execute(f'DESCRIBE "{name}"').fetchall())


@cache
def registry(sql_dir: Path = SQL_DIR) -> dict[str, Table]:
    tables = {}
    for path in sorted((sql_dir / "schema").glob("*.sql")):
        text = path.read_text()
        name = _header(text, "table") or path.stem
        key = tuple(k.strip() for k in (_header(text, "key") or "").split(",") if k.strip())
        if not key:
            raise ValueError(f"{path}: missing '-- key:' header")
        cols = _columns(text)
        if "run_id" not in dict(cols):
            raise ValueError(f"{path}: every table carries a run_id column")
        tables[name] = Table(name, text, key, _header(text, "scope"), _header(text, "doc") or "", cols)
    return tables


def table(name: str) -> Table:
    try:
        return registry()[name]
    except KeyError:
        raise KeyError(f"unknown table {name!r}; tables are declared in sql/schema/") from None


def ensure_schema(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Create missing tables, add missing columns, refresh views. Returns the changes made."""
    changes = []
    existing = {r[0] for r in con.execute(
        "SELECT table_name FROM duckdb_tables() WHERE database_name = current_database()").fetchall()}
    for t in registry().values():
        if t.name not in existing:
            con.execute(t.ddl)
            changes.append(f"create {t.name}")
            continue
        have = {r[0] for r in con.execute(f'DESCRIBE "{t.name}"').fetchall()}
        for col, typ in t.columns:
            if col not in have:
                con.execute(f'ALTER TABLE "{t.name}" ADD COLUMN "{col}" {typ}')
                changes.append(f"add {t.name}.{col}")
    applied = dict(con.execute("SELECT object, sha256 FROM schema_versions").fetchall())
    for path in sorted((SQL_DIR / "migrations").glob("*.sql")):   # once each, after the columns they fill exist
        if f"migration:{path.stem}" not in applied:
            con.execute(path.read_text())
            con.execute("INSERT INTO schema_versions VALUES (?, ?, 'schema')",
                        [f"migration:{path.stem}", hashlib.sha256(path.read_bytes()).hexdigest()])
            changes.append(f"migration {path.stem}")
    recreated: set[str] = set()
    have_views = {r[0] for r in con.execute(
        "SELECT view_name FROM duckdb_views() WHERE database_name = current_database()").fetchall()}
    for path in sorted((SQL_DIR / "views").glob("*.sql")):
        text = path.read_text()
        sha = hashlib.sha256(text.encode()).hexdigest()
        if applied.get(f"view:{path.stem}") == sha and path.stem in have_views:
            continue  # unchanged: no new catalog snapshot
        con.execute(text)
        con.execute("DELETE FROM schema_versions WHERE object = ?", [f"view:{path.stem}"])
        con.execute("INSERT INTO schema_versions VALUES (?, ?, 'schema')", [f"view:{path.stem}", sha])
        changes.append(f"view {path.stem}")
        recreated.add(path.stem)
    from warehouse.docs import apply_comments
    changes += [f"comment {name}" for name in apply_comments(con, recreated)]
    return changes
