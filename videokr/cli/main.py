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
    from videokr.cli.summary import print_summary
    if args.scheduler:
        from videokr.cli.scheduler_run import run_with_scheduler
        results = run_with_scheduler(settings, _subjects(args.subjects))
        return 0 if print_summary(settings, results, since=t0) else 1
    from jobs.stages import registered
    from videokr.cli.inprocess import run_chain
    from videokr.cli.progress import Progress, ledger_cost_fn
    from videokr.cli.runlog import quiet_fds, run_log_path
    stages = registered()
    if args.stop_after:
        stages = stages[:stages.index(args.stop_after) + 1]
    with quiet_fds(run_log_path(settings.airflow_home)) as terminal:   # Airflow's log: files, not the terminal
        tty = terminal.isatty() and not args.plain
        with Progress(stages, terminal, tty, ledger_cost_fn(settings, t0)) as display:
            results = run_chain(settings, _subjects(args.subjects), args.stop_after, display)
    return 0 if print_summary(settings, results, since=t0) else 1


STAGE_HELP = {
    "knowledge_bank": "load the knowledge-bank file into disciplines .. knowledge_points",
    "collect": "search keywords per knowledge point (CC, captioned) -> search_hits, videos, api_usage",
    "screen": "download, captions, moderation, text and visual relevance -> screening",
    "frames": "sha256, 20-s window hashes and the model frame instants of every kept video",
    "generate": "three-skill question candidates (multiple choice and open-ended, with a CoT) per video",
    "verify": "self-consistency, video dependency and CoT checks -> checks, verified_qa",
    "decontaminate": "benchmark overlap by YouTube id and near-duplicate windows -> contamination",
    "split": "each video to sft or rl (grouped by video)",
    "export": "training-tool files (VideoKR, LLaMA-Factory, verl, TRL) from the splits",
    "train": "SFT then GRPO on the exported splits, through a launcher -> train_runs",
    "evaluate": "the base and trained models on the held-out set per frame budget -> eval_results",
    "maintenance": "warehouse upkeep: merge files, expire snapshots (not in the chain)",
    "review": "pilots of candidate models for human review (not in the chain)",
}


def stage_epilog() -> str:
    from jobs.stages import MODULES, ORDER
    names = [*ORDER, *(k for k in MODULES if k not in ORDER)]
    width = max(map(len, names))
    return "stages, in pipeline order:\n" + "\n".join(f"  {n:<{width}}  {STAGE_HELP.get(n, '')}" for n in names)


def cmd_stage(args) -> int:
    from jobs.scope import check_subjects
    from jobs.stages import ORDER, job, registered
    settings = Settings.load()
    names = [args.name]
    if args.downstream:
        if args.name not in ORDER:
            raise ValueError(f"{args.name} is not in the pipeline chain, so it has no downstream stages")
        names += [s for s in registered() if ORDER.index(s) > ORDER.index(args.name)]
        if args.until:
            if args.until not in names:
                raise ValueError(f"--until {args.until}: not below {args.name} (stages: {', '.join(names)})")
            names = names[:names.index(args.until) + 1]
    elif args.until:
        raise ValueError("--until needs --downstream")
    out = []
    for name in names:
        subjects = check_subjects(name, _subjects(args.subjects), settings)   # unknown subjects: refused, named
        params = _params(args.param) if name == args.name else {}
        out.append(job(name).run(settings, subjects or None, params))
    print(json.dumps(out if args.downstream else out[0], indent=2, default=str))
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


def build_parser() -> argparse.ArgumentParser:
    from jobs.stages import ORDER
    p = argparse.ArgumentParser(prog="videokr", description=__doc__)
    sub = p.add_subparsers(dest="cmd", required=True)

    r = sub.add_parser("run", help="run every stage DAG in order through Airflow (dag.test, in-process)",
                       description="Run every stage DAG in pipeline order through Airflow in-process. The terminal "
                                   "shows one progress line per stage and a summary; Airflow's logs go to the task "
                                   "log files under $VIDEOKR_HOME/airflow/logs (the UI shows them).")
    r.add_argument("--subjects", nargs="*", metavar="SUBJECT",
                   help="subject ids (e.g. physics chemistry, or comma-separated); default: all subjects")
    r.add_argument("--scheduler", action="store_true", help="use the real scheduler, triggered over REST")
    r.add_argument("--stop-after", choices=ORDER, metavar="STAGE", help="stop after this stage's DAG")
    r.add_argument("--plain", action="store_true", help="plain progress lines even on a terminal")
    r.set_defaults(fn=cmd_run)

    s = sub.add_parser("stage", help="run one stage's job directly, without Airflow",
                       description="Run one stage's job directly, without Airflow (the same job its DAG runs).",
                       epilog=stage_epilog(), formatter_class=argparse.RawDescriptionHelpFormatter)
    s.add_argument("name", choices=list(STAGE_HELP), metavar="STAGE", help="the stage to run (listed below)")
    s.add_argument("--subjects", nargs="*", metavar="SUBJECT",
                   help="only these subject ids (space- or comma-separated); unknown ids are refused; default: all")
    s.add_argument("--param", action="append", metavar="KEY=VALUE",
                   help="a stage parameter, as in the DAG's params (value parsed as JSON when it can be); repeat")
    s.add_argument("--downstream", action="store_true",
                   help="then run every stage below it in the pipeline, for the same subjects")
    s.add_argument("--until", choices=ORDER, metavar="STAGE", help="with --downstream: stop after this stage")
    s.set_defaults(fn=cmd_stage)

    t = sub.add_parser("tables", help="list the warehouse's tables and views with their descriptions and row counts")
    t.set_defaults(fn=cmd_tables)
    d = sub.add_parser("describe", help="the columns of a table or view, with their descriptions")
    d.add_argument("name", help="a table or view, e.g. verified_qa or v_dataset_stats")
    d.set_defaults(fn=cmd_tables)
    q = sub.add_parser("sql", help="run a SQL query against the warehouse (read-only) and print the result")
    q.add_argument("query", help="one SQL statement (DuckDB dialect), e.g. \"select * from v_dataset_stats\"")
    q.add_argument("--max-rows", type=int, default=50, help="print at most this many rows (default 50)")
    q.set_defaults(fn=cmd_sql)

    sm = sub.add_parser("sample", help="the embedded sample world")
    sm.add_argument("action", choices=["build"], help="build: render whatever is missing and print the library")
    sm.set_defaults(fn=cmd_sample)

    from videokr.cli import commands as cli_more
    cli_more.register(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    args = build_parser().parse_args(argv)
    try:
        return args.fn(args)
    except (KeyError, ValueError, RuntimeError) as exc:
        print(f"videokr {args.cmd}: error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:             # disk full, read-only path: the cause and the path, no traceback
        print(f"videokr {args.cmd}: error: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:           # a warehouse error (e.g. an IO error inside DuckDB names the file): one line
        if type(exc).__module__.split(".")[0] not in ("duckdb", "_duckdb"):
            raise
        print(f"videokr {args.cmd}: error: {type(exc).__name__}: {str(exc).splitlines()[0]}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
