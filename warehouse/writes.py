"""Transactional, idempotent writes.

Both write shapes diff the incoming rows against the lake by the table's natural key and content (all columns
but `run_id`), inside one transaction:

- unchanged rows are left alone (they keep the `run_id` that first wrote them, so a rerun changes nothing);
- changed and new rows are written with the current `run_id`;
- `replace_scope` also deletes the scope's rows that the input no longer has; `merge` never deletes.

A DuckLake commit conflict (another process committed first) rolls back and retries with backoff.
"""
from __future__ import annotations

import random
import time
from typing import Callable

import duckdb
import polars as pl
import pyarrow as pa

from warehouse.catalog import is_conflict
from warehouse.schema import Table

INCOMING = "_incoming"


def _frame(t: Table, rows: pl.DataFrame | pa.Table | list[dict], run_id: str) -> pa.Table:
    df = rows if isinstance(rows, pl.DataFrame) else pl.DataFrame(rows) if isinstance(rows, list) else pl.from_arrow(rows)
    cols = [c for c, _ in t.columns]
    if df.width == 0:  # no rows at all: an empty input of the table's shape (a scoped write then just deletes)
        df = pl.DataFrame({c: pl.Series(c, [], dtype=pl.String) for c in t.key})
    unknown = set(df.columns) - set(cols)
    if unknown:
        raise ValueError(f"{t.name}: columns not in sql/schema/{t.name}.sql: {sorted(unknown)}")
    missing_key = [k for k in t.key if k not in df.columns]
    if missing_key:
        raise ValueError(f"{t.name}: rows lack key columns {missing_key}")
    df = df.with_columns(pl.lit(run_id).alias("run_id"))
    if df.height and df.select(t.key).is_duplicated().any():
        dup = df.filter(df.select(t.key).is_duplicated()).select(t.key).head(3).to_dicts()
        raise ValueError(f"{t.name}: duplicate keys in input, e.g. {dup}")
    return df.to_arrow()


def _diff_sql(t: Table, present: set[str]) -> tuple[str, str]:
    """(join condition on key, 'differs' predicate over content columns present in the input)."""
    on = " AND ".join(f'l."{k}" IS NOT DISTINCT FROM i."{k}"' for k in t.key)
    content = [c for c, _ in t.columns if c not in t.key and c != "run_id" and c in present]
    differs = " OR ".join(f'l."{c}" IS DISTINCT FROM i."{c}"' for c in content) or "FALSE"
    return on, differs


def write(con: duckdb.DuckDBPyConnection, t: Table, rows, run_id: str,
          scope: dict[str, list] | None = None, retries: int = 8) -> dict[str, int]:
    """Write `rows` into `t`. With `scope` (column -> values), delete that scope's rows missing from input.

    Returns counts: inserted (new or changed rows), deleted (stale and changed rows), unchanged.
    """
    data = _frame(t, rows, run_id)
    present = set(data.column_names)
    on, differs = _diff_sql(t, present)
    cols = ", ".join(f'"{c}"' for c in data.column_names)
    scope_sql, scope_params = _scope_predicate(t, scope)

    def body() -> dict[str, int]:
        con.register(INCOMING, data)
        try:
            # incoming rows with no identical row (same key, same content) already in the lake
            changed = f"""SELECT i.* FROM {INCOMING} i WHERE NOT EXISTS
                          (SELECT 1 FROM "{t.name}" l WHERE {on} AND NOT ({differs}))"""
            con.execute(f"CREATE OR REPLACE TEMP TABLE _changed AS {changed}")
            n_changed = con.execute("SELECT count(*) FROM _changed").fetchone()[0]
            deleted = 0
            if n_changed:
                on_c = on.replace("i.", "c.")
                deleted += con.execute(
                    f'DELETE FROM "{t.name}" l USING _changed c WHERE {on_c}').fetchone()[0]
            if scope is not None:
                stale = f"""DELETE FROM "{t.name}" l WHERE {scope_sql}
                            AND NOT EXISTS (SELECT 1 FROM {INCOMING} i WHERE {on})"""
                deleted += con.execute(stale, scope_params).fetchone()[0]
            if n_changed:
                con.execute(f'INSERT INTO "{t.name}" ({cols}) SELECT {cols} FROM _changed')
            return {"inserted": n_changed, "deleted": deleted, "unchanged": data.num_rows - n_changed}
        finally:
            con.unregister(INCOMING)

    return transaction(con, body, retries)


def _scope_predicate(t: Table, scope: dict[str, list] | None) -> tuple[str, list]:
    if scope is None:
        return "TRUE", []
    if not scope:
        return "TRUE", []  # an empty scope dict means the whole table
    parts, params = [], []
    for col, values in scope.items():
        if col not in dict(t.columns):
            raise ValueError(f"{t.name}: scope column {col!r} not in table")
        parts.append(f'l."{col}" IN (SELECT unnest(?))')
        params.append(list(values))
    return " AND ".join(parts), params


def transaction(con: duckdb.DuckDBPyConnection, body: Callable[[], object], retries: int = 8):
    """Run `body` in one transaction; on a commit conflict roll back and retry with jittered backoff."""
    for attempt in range(retries):
        con.execute("BEGIN TRANSACTION")
        try:
            result = body()
            con.execute("COMMIT")
            return result
        except duckdb.Error as exc:
            try:
                con.execute("ROLLBACK")
            except duckdb.Error:
                pass
            if not is_conflict(exc) or attempt == retries - 1:
                raise
            time.sleep(min(2.0, 0.05 * 2**attempt) * (0.5 + random.random()))
    raise AssertionError("unreachable")
