"""Printing: tables for `videokr sql`, the end-of-run summary for `videokr run`."""
from __future__ import annotations

import polars as pl

from videokr.settings import Settings


def print_frame(df: pl.DataFrame, max_rows: int = 50) -> None:
    with pl.Config(tbl_rows=max_rows, tbl_cols=-1, fmt_str_lengths=60, tbl_width_chars=200):
        print(df)


def print_summary(settings: Settings, results: list[dict], since: float) -> bool:
    from datetime import datetime, timezone

    from warehouse import Warehouse
    print("\n== DAG runs ==")
    print_frame(pl.DataFrame(results) if results else pl.DataFrame({"dag_id": []}))
    with Warehouse(settings, read_only=True) as wh:
        counts = [{"table": t, "rows": int(wh.query(f'SELECT count(*) AS n FROM "{t}"')["n"][0])}
                  for t in wh.tables()]
        print("\n== rows per table ==")
        print_frame(pl.DataFrame(counts), max_rows=100)
        started = datetime.fromtimestamp(since, tz=timezone.utc).replace(tzinfo=None)
        runs = wh.query("SELECT stage, run_id, status, rows_written, snapshot_id FROM runs "
                        "WHERE started >= ? ORDER BY started", [started])
        print("\n== stage runs (this invocation) ==")
        print_frame(runs, max_rows=100)
        from jobs.review.gate import models_line
        print("\n" + models_line(settings, wh))
    return bool(results) and all("success" in r["state"] for r in results)
