"""Printing: tables for `videokr sql`, the end-of-run summary for `videokr run`.

The summary has one row per stage: its DAG run's state and time, and the `runs` rows its tasks wrote folded
together (a mapped stage writes one per partition), with rows written per table, paid calls and the snapshot.
Cells wrap instead of being cut.
"""
from __future__ import annotations

import json
from datetime import datetime, timezone

import polars as pl

from videokr.settings import Settings


def print_frame(df: pl.DataFrame, max_rows: int = 50) -> None:
    with pl.Config(tbl_rows=max_rows, tbl_cols=-1, fmt_str_lengths=60, tbl_width_chars=200):
        print(df)


def _utc(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, tz=timezone.utc).replace(tzinfo=None)


def fold_stage_runs(results: list[dict], runs: list[dict], paid: dict[str, dict]) -> list[dict]:
    """One row per stage DAG: the `runs` rows that started while its DAG ran, folded (rows summed per table)."""
    out = []
    for r in results:
        lo, hi = _utc(r.get("started") or 0), _utc(r.get("finished") or 9e9)
        mine = [x for x in runs if lo <= x["started"] <= hi]
        rows: dict[str, int] = {}
        for x in mine:
            for table, n in json.loads(x["rows_written"] or "{}").items():
                if isinstance(n, (int, float)) and not isinstance(n, bool):
                    rows[table] = rows.get(table, 0) + int(n)
        calls = sum(paid.get(x["run_id"], {}).get("llm_calls", 0) for x in mine)
        usd = sum(paid.get(x["run_id"], {}).get("usd", 0.0) for x in mine)
        units = sum(paid.get(x["run_id"], {}).get("units", 0) for x in mine)
        statuses = sorted({x["status"] for x in mine})
        snaps = [x["snapshot_id"] for x in mine if x["snapshot_id"] is not None]
        out.append({"stage": r["dag_id"], "state": r["state"], "seconds": r.get("seconds"),
                    "cpu_s": r.get("cpu_s"), "runs": len(mine),
                    "run_status": "/".join(statuses) or "-", "rows": rows, "llm_calls": calls, "usd": usd,
                    "units": units, "snapshot": max(snaps) if snaps else None})
    return out


def _rows_text(rows: dict[str, int]) -> str:
    changed = {t: n for t, n in rows.items() if n}
    if not changed:
        return "no change"
    return ", ".join(f"{t} {n:,}" for t, n in sorted(changed.items()))


def _paid_text(row: dict) -> str:
    parts = []
    if row["llm_calls"]:
        parts.append(f"{row['llm_calls']:,} LLM ${row['usd']:,.2f}")
    if row["units"]:
        parts.append(f"{row['units']:,} API units")
    return ", ".join(parts) or "-"


def _console(out=None):
    import shutil
    import sys

    from rich.console import Console
    out = out or sys.stdout
    tty = hasattr(out, "isatty") and out.isatty()
    return Console(file=out, width=None if tty else max(140, shutil.get_terminal_size((140, 40)).columns),
                   force_terminal=tty, highlight=False, soft_wrap=False)


def quota_lines(settings: Settings, wh, since: datetime) -> list[str]:
    """Per API source this run charged: its units and which daily budget applies to them."""
    from jobs.sources.quota import DEFAULT_BUDGET, quota_config
    df = wh.query("SELECT source, sum(units) AS units FROM api_usage WHERE called_at >= ? GROUP BY 1 ORDER BY 1",
                  [since])
    out = []
    for source, units in df.iter_rows():
        budget = int(quota_config(settings, source).get("daily_budget", DEFAULT_BUDGET))
        out.append(f"API quota: {units:,} units charged to '{source}' " + budget_note(source, budget))
    return out


def budget_note(source: str, budget: int) -> str:
    """Which budget applies: the stand-in's accounting allowance, or the real per-key YouTube quota."""
    if source == "sample":
        return (f"(the offline stand-in: YouTube's units are charged for accounting only, against the stand-in's "
                f"allowance of {budget:,}/day, [sample] daily_budget; a real key gets [youtube] daily_budget)")
    return f"(budget {budget:,} units per key per quota day, [youtube] daily_budget)"


def print_summary(settings: Settings, results: list[dict], since: float, out=None) -> bool:
    from rich.table import Table

    from warehouse import Warehouse
    con = _console(out)
    started = _utc(since)
    with Warehouse(settings, read_only=True) as wh:
        runs = wh.query("SELECT run_id, stage, status, rows_written, snapshot_id, started FROM runs "
                        "WHERE started >= ? ORDER BY started", [started]).to_dicts()
        paid: dict[str, dict] = {}
        for rid, n, usd in wh.query("SELECT run_id, count(*), coalesce(sum(cost_usd), 0) FROM llm_calls "
                                    "WHERE created_at >= ? GROUP BY 1", [started]).iter_rows():
            paid.setdefault(rid, {}).update(llm_calls=int(n), usd=float(usd))
        for rid, units in wh.query("SELECT run_id, sum(units) FROM api_usage WHERE called_at >= ? GROUP BY 1",
                                   [started]).iter_rows():
            paid.setdefault(rid, {}).update(units=int(units))
        counts = {t: int(wh.query(f'SELECT count(*) AS n FROM "{t}"')["n"][0]) for t in wh.tables()}
        quota = quota_lines(settings, wh, started)
        from jobs.review.gate import models_line
        models = models_line(settings, wh)

    con.print("\n== stages ==")
    t = Table(show_lines=False, pad_edge=False, expand=False)
    for col, kw in (("stage", {}), ("state", {}), ("seconds", {"justify": "right"}), ("CPU s", {"justify": "right"}),
                    ("runs", {"justify": "right"}),
                    ("rows written (all partitions)", {"overflow": "fold", "ratio": 1}), ("paid calls", {}),
                    ("snapshot", {"justify": "right"})):
        t.add_column(col, **kw)
    total_s = 0.0
    for row in fold_stage_runs(results, runs, paid):
        total_s += row["seconds"] or 0
        t.add_row(row["stage"], row["state"], f"{row['seconds']:.0f}" if row["seconds"] is not None else "-",
                  f"{row['cpu_s']:.0f}" if row.get("cpu_s") is not None else "-",
                  f"{row['runs']}" + ("" if row["run_status"] in ("success", "-") else f" ({row['run_status']})"),
                  _rows_text(row["rows"]), _paid_text(row), str(row["snapshot"] or "-"))
    con.print(t)
    con.print(f"total: {total_s:.0f} s over {len(results)} stage DAGs")

    con.print("\n== rows per table ==")
    grid = Table.grid(padding=(0, 3))
    ncol = 4
    for _ in range(ncol):
        grid.add_column()
    cells = [f"{name} [bold]{n:,}[/bold]" for name, n in sorted(counts.items())]
    for i in range(0, len(cells), ncol):
        grid.add_row(*(cells[i:i + ncol] + [""] * (ncol - len(cells[i:i + ncol]))))
    con.print(grid)
    con.print()
    for line in quota + [models]:
        con.print(line, markup=False)
    if results and results[-1].get("run_log"):
        con.print(f"logs: each task's log in the Airflow UI (`videokr airflow up`) and under "
                  f"{settings.airflow_home / 'logs'}; this run's own log: {results[-1]['run_log']}")
    bad = [r for r in results if "success" not in r["state"]]
    for r in bad:
        con.print(f"[bold red]{r['dag_id']} {r['state']}[/bold red]: see its failed task's log (UI, or "
                  f"{settings.airflow_home / 'logs'}/dag_id={r['dag_id']}/run_id={r.get('run_id')}/)")
    return bool(results) and not bad
