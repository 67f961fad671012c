"""The `videokr` command line."""
from __future__ import annotations

import argparse
import json
import logging
import sys
import time

from videokr.settings import Settings


def _subjects(values: list[str] | None) -> list[str]:
    out: list[str] = []
    for v in values or []:
        out.extend(x.strip() for x in v.split(",") if x.strip())
    return out


def _params(pairs: list[str] | None) -> dict:
    params = {}
    for pair in pairs or []:
        key, _, value = pair.partition("=")
        try:
            params[key] = json.loads(value)
        except json.JSONDecodeError:
            params[key] = value
    return params


def cmd_run(args) -> int:
    settings = Settings.load()
    t0 = time.time()
    if args.scheduler:
        from videokr.cli.scheduler_run import run_with_scheduler
        results = run_with_scheduler(settings, _subjects(args.subjects))
    else:
        from videokr.cli.inprocess import run_chain
        results = run_chain(settings, _subjects(args.subjects))
    from videokr.cli.summary import print_summary
    ok = print_summary(settings, results, since=t0)
    return 0 if ok else 1


def cmd_stage(args) -> int:
    from jobs.scope import check_subjects
    from jobs.stages import job
    settings = Settings.load()
    subjects = check_subjects(args.name, _subjects(args.subjects), settings)   # unknown subjects: refused, named
    summary = job(args.name).run(settings, subjects or None, _params(args.param))
    print(json.dumps(summary, indent=2, default=str))
    return 0


def cmd_sql(args) -> int:
    import duckdb

    from videokr.cli.summary import print_frame
    from warehouse import Warehouse
    with Warehouse(Settings.load(), read_only=True) as wh:
        try:
            df = wh.query(args.query)
        except duckdb.Error as exc:           # an analyst's typo: one line naming the problem, no traceback
            print(f"videokr sql: {type(exc).__name__}: {str(exc).splitlines()[0]}", file=sys.stderr)
            return 2
        print_frame(df, max_rows=args.max_rows)
    return 0


def cmd_tables(args) -> int:
    """Every table and view with its description and row count (`videokr describe T` for the columns)."""
    import polars as pl

    from warehouse import Warehouse
    from warehouse.docs import catalog_listing, describe
    with Warehouse(Settings.load(), read_only=True) as wh:
        rows = describe(wh.con, args.name) if getattr(args, "name", None) else catalog_listing(wh.con)
    with pl.Config(tbl_rows=-1, tbl_cols=-1, fmt_str_lengths=200, tbl_width_chars=250, tbl_hide_dataframe_shape=True):
        print(pl.DataFrame(rows))
    return 0


def cmd_sample(args) -> int:
    from jobs.sources.sample.library import build_library, library_summary
    t0 = time.time()
    lib = build_library(Settings.load())
    print(json.dumps(library_summary(lib), indent=2, default=str))
    print(f"built in {time.time() - t0:.1f}s")
    return 0


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    p = argparse.ArgumentParser(prog="videokr", description=__doc__)
    sub = p.add_subparsers(dest="cmd", required=True)

    r = sub.add_parser("run", help="run every stage DAG in order through Airflow (dag.test, in-process)")
    r.add_argument("--subjects", nargs="*")
    r.add_argument("--scheduler", action="store_true", help="use the real scheduler, triggered over REST")
    r.set_defaults(fn=cmd_run)

    s = sub.add_parser("stage", help="run one stage's job directly, without Airflow")
    s.add_argument("name")
    s.add_argument("--subjects", nargs="*")
    s.add_argument("--param", action="append", help="key=value (value parsed as JSON when it can be)")
    s.set_defaults(fn=cmd_stage)

    t = sub.add_parser("tables", help="list the warehouse's tables and views with their descriptions and row counts")
    t.set_defaults(fn=cmd_tables)
    d = sub.add_parser("describe", help="the columns of a table or view, with their descriptions")
    d.add_argument("name", help="a table or view, e.g. verified_qa or v_dataset_stats")
    d.set_defaults(fn=cmd_tables)
    q = sub.add_parser("sql", help="run a SQL query against the warehouse (read-only) and print the result")
    q.add_argument("query")
    q.add_argument("--max-rows", type=int, default=50)
    q.set_defaults(fn=cmd_sql)

    sm = sub.add_parser("sample", help="the embedded sample world")
    sm.add_argument("action", choices=["build"])
    sm.set_defaults(fn=cmd_sample)

    from videokr.cli import commands as cli_more
    cli_more.register(sub)

    args = p.parse_args(argv)
    try:
        return args.fn(args)
    except (KeyError, ValueError, RuntimeError) as exc:
        print(f"videokr {args.cmd}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
