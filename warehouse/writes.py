"""Transactional, idempotent writes.

Both write shapes diff the incoming rows against the lake by the table's natural key and content (all columns
but `run_id`), inside one transaction:

- unchanged rows are left alone (they keep the `run_id` that first wrote them, so a rerun changes nothing);
- changed and new rows are written with the current `run_id`;
- `replace_scope` also deletes the scope's rows that the input no longer has; `merge` never deletes.

A DuckLake commit conflict (another process committed first) rolls back and retries with backoff.
Text never holds a NUL: DuckLake hands filter values (join keys included) to its catalog as SQL text, which ends at a
NUL, so one NUL in a key (a hostile id in a quarantine row) would break every later join on that column. A NUL is
written as the four characters `\\x00`.
"""
from __future__ import annotations

import itertools
import os
import random
import re
import time
from typing import Callable

import duckdb
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc

from warehouse import derived
from warehouse.catalog import is_conflict
from warehouse.schema import Table

INCOMING = "_incoming"


_ARROW = {"VARCHAR": pa.string(), "BIGINT": pa.int64(), "INTEGER": pa.int32(), "UBIGINT": pa.uint64(),
          "DOUBLE": pa.float64(), "BOOLEAN": pa.bool_(), "DATE": pa.date32(), "TIMESTAMP": pa.timestamp("us")}


def arrow_type(sql_type: str) -> pa.DataType:
    """The Arrow type of a column type declared in sql/schema (lists as `T[]`)."""
    if sql_type.endswith("[]"):
        return pa.list_(arrow_type(sql_type[:-2]))
    try:
        return _ARROW[sql_type]
    except KeyError:
        raise ValueError(f"column type {sql_type} has no Arrow mapping in warehouse/writes.py") from None


def _misfit(t: Table, col: str, values: list, keys: list[dict], exc: Exception) -> ValueError:
    """The error for the first value of `col` that does not fit its declared type, naming the row's key."""
    typ = arrow_type(dict(t.columns)[col])
    for i, v in enumerate(values):
        try:
            pa.array([v], type=typ)
        except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, ValueError, OverflowError) as e:
            return ValueError(f"{t.name}.{col}: value {v!r} of row {keys[i]} does not fit "
                              f"{dict(t.columns)[col]} ({e})")
    return ValueError(f"{t.name}.{col}: values do not fit {dict(t.columns)[col]} ({exc})")


def _frame(t: Table, rows: pl.DataFrame | pa.Table | list[dict], run_id: str) -> pa.Table:
    """The incoming rows as an Arrow table typed from the table's declared schema (never inferred from the data):
    every column any row carries, each converted to its declared type, plus run_id."""
    if isinstance(rows, pl.DataFrame):
        rows = rows.to_arrow()
    if isinstance(rows, pa.Table):
        names, n = list(rows.column_names), rows.num_rows
    else:
        rows = list(rows)
        names, n = list(dict.fromkeys(k for r in rows for k in r)), len(rows)
    names = [c for c in names if c != "run_id"]
    if not names:  # no rows at all: an empty input of the table's shape (a scoped write then just deletes)
        names = [k for k in t.key if k != "run_id"]
    declared = dict(t.columns)
    unknown = set(names) - set(declared)
    if unknown:
        raise ValueError(f"{t.name}: columns not in sql/schema/{t.name}.sql: {sorted(unknown)}")
    missing_key = [k for k in t.key if k not in names and k != "run_id"]   # run_id: the writing run's own
    if missing_key:
        raise ValueError(f"{t.name}: rows lack key columns {missing_key}")

    def column(c: str) -> list:
        return rows.column(c).to_pylist() if isinstance(rows, pa.Table) else [r.get(c) for r in rows]

    arrays = []
    for c in names:
        typ = arrow_type(declared[c])
        try:
            if isinstance(rows, pa.Table):
                arrays.append(rows.column(c).cast(typ, safe=True))
            else:
                arrays.append(pa.array(column(c), type=typ))
        except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError, TypeError, ValueError,
                OverflowError) as exc:
            keys = [dict(zip(t.key, k)) for k in zip(*(column(k) for k in t.key))]
            raise _misfit(t, c, column(c), keys, exc) from exc
    arrays = [_no_nul(a) for a in arrays]
    arrays.append(pa.array([run_id] * n, type=pa.string()))
    data = derived.fill(t.name, pa.Table.from_arrays(arrays, names=names + ["run_id"]))
    if n:
        keys = pl.from_arrow(data.select(list(t.key)))
        if keys.is_duplicated().any():
            dup = keys.filter(keys.is_duplicated()).head(3).to_dicts()
            raise ValueError(f"{t.name}: duplicate keys in input, e.g. {dup}")
    return data


def _no_nul(arr):
    """A text column with each NUL written as the text `\\x00` (see the module docstring)."""
    if pa.types.is_string(arr.type) and pc.any(pc.match_substring(arr, "\x00")).as_py():
        return pc.replace_substring(arr, "\x00", "\\x00")
    return arr


def _diff_sql(t: Table, present: set[str]) -> tuple[str, str]:
    """(join condition on key, 'differs' predicate over content columns present in the input)."""
    on = " AND ".join(f'l."{k}" IS NOT DISTINCT FROM i."{k}"' for k in t.key)
    content = [c for c, _ in t.columns if c not in t.key and c != "run_id" and c in present]
    differs = " OR ".join(f'l."{c}" IS DISTINCT FROM i."{c}"' for c in content) or "FALSE"
    return on, differs


def write(con: duckdb.DuckDBPyConnection, t: Table, rows, run_id: str,
          scope: dict[str, list] | None = None, retries: int = 8, append: bool = False) -> dict[str, int]:
    """Write `rows` into `t`. With `scope` (column -> values), delete that scope's rows missing from input.
    With `append` (ledgers whose writer makes keys unique), insert the rows as they are: nothing is read.

    Returns counts: inserted (new or changed rows), deleted (stale and changed rows), unchanged.
    """
    return transaction(con, _writer(con, t, rows, run_id, scope, append), retries)


def write_many(con: duckdb.DuckDBPyConnection, writes: list[tuple], retries: int = 8) -> list[dict[str, int]]:
    """Several writes (table, rows, run_id, scope[, append]) in ONE transaction: a chunk of a stage's results in
    every table it writes, with their ledger and quarantine rows, lands whole or not at all."""
    bodies = [_writer(con, *w) for w in writes]
    return transaction(con, lambda: [b() for b in bodies], retries)


def _writer(con: duckdb.DuckDBPyConnection, t: Table, rows, run_id: str,
            scope: dict[str, list] | None, append: bool = False) -> Callable[[], dict[str, int]]:
    """The body of one write (run inside a transaction): typed input, diff by key and content, scoped deletes.
    With a scope, the lake side of the diff is restricted to that scope, so the cost follows the write."""
    data = _frame(t, rows, run_id)
    present = set(data.column_names)
    on, differs = _diff_sql(t, present)
    cols = ", ".join(f'"{c}"' for c in data.column_names)
    scope_sql, scope_params = _scope_predicate(t, scope)
    if append:
        return _appender(con, t, data, cols)

    def body() -> dict[str, int]:
        con.register(INCOMING, data)
        try:
            # incoming rows with no identical row (same key, same content) already in the lake
            # (only the scope's lake rows are read: file statistics prune the rest)
            changed = f"""SELECT i.* FROM {INCOMING} i WHERE NOT EXISTS
                          (SELECT 1 FROM "{t.name}" l WHERE {scope_sql} AND {on} AND NOT ({differs}))"""
            con.execute(f"CREATE OR REPLACE TEMP TABLE _changed AS {changed}", scope_params)
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

    return body


def _appender(con: duckdb.DuckDBPyConnection, t: Table, data: pa.Table, cols: str):
    """Insert the rows as they are: a ledger whose writer makes every key unique (one per payment), so nothing of
    the table is read and the cost follows the write, not the ledger's size."""
    def body() -> dict[str, int]:
        con.register(INCOMING, data)
        try:
            con.execute(f'INSERT INTO "{t.name}" ({cols}) SELECT {cols} FROM {INCOMING}')
            return {"inserted": data.num_rows, "deleted": 0, "unchanged": 0}
        finally:
            con.unregister(INCOMING)
    return body


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


PATIENCE_PER_RETRY_S = 15.0   # conflicts are retried `retries` times AND for (retries - 1) x this long


def transaction(con: duckdb.DuckDBPyConnection, body: Callable[[], object], retries: int = 8):
    """Run `body` in one transaction; on a commit conflict roll back and retry with jittered backoff. A SQLite
    catalog can answer 'database is locked' at once when another writer committed while this transaction ran, so
    with several writers on a loaded machine many commits in a row can lose the race: conflicts are retried for a
    time (PATIENCE_PER_RETRY_S per retry; the default 8 retries: 105 s), not just a count (retries=1: no retry)."""
    start, patience = time.monotonic(), (retries - 1) * PATIENCE_PER_RETRY_S
    for attempt in itertools.count():
        con.execute("BEGIN TRANSACTION")
        try:
            result = body()
            con.execute("COMMIT")
            return result
        except duckdb.Error as exc:
            try:
                con.execute("ROLLBACK")
            except duckdb.Error:
                pass                      # already rolled back (DuckDB aborts a transaction on an IO error)
            _drop_partial_file(exc)
            if not is_conflict(exc) or (attempt >= retries - 1 and time.monotonic() - start > patience):
                raise
            time.sleep(min(2.0, 0.05 * 2**attempt) * (0.5 + random.random()))
    raise AssertionError("unreachable")


_PARTIAL = re.compile(r'Could not write file "([^"]+\.parquet)"')


def _drop_partial_file(exc: BaseException) -> None:
    """A write that failed part-way (disk full, read-only path) names the data file it could not finish: that file
    belongs to no committed snapshot and to no other writer (its name is a fresh uuid), so it is removed now rather
    than left as an orphan that a rerun would never clean."""
    m = _PARTIAL.search(str(exc))
    if m and "://" not in m.group(1):
        try:
            os.remove(m.group(1))
        except OSError:
            pass
