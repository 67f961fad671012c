"""CLI commands beyond run/stage/sql/sample: airflow, quota, kb, benchmarks, export, card, maintain (and evalset, in
evalset.py)."""
from __future__ import annotations

import json
import numbers
import time

from videokr.settings import Settings


def cmd_airflow(args) -> int:
    settings = Settings.load()
    if args.action == "init":
        from videokr.cli.airflow_admin import POOLS, init
        login = init(settings)
        print(f"airflow home: {settings.airflow_home}\npools: {', '.join(POOLS)}\nlogin: {login['user']} / {login['password']}")
        return 0
    if args.action == "env":   # for Airflow processes started by hand, e.g. Celery workers on other hosts
        import shlex

        from videokr.cli.airflow_env import build
        print("\n".join(f"export {k}={shlex.quote(v)}" for k, v in build(settings).items()))
        return 0
    from videokr.cli.airflow_server import WORKERS, AirflowServer
    # with VIDEOKR_EXECUTOR=celery: the deployment on this machine, its two Celery workers included
    with AirflowServer(settings, port=args.port, workers=WORKERS if settings.executor == "celery" else None) as server:
        print(f"\nAirflow is up: {server.url}\nlog in as {server.login['user']} / {server.login['password']}"
              f"\n(password file: {settings.airflow_home}/simple_auth_manager_passwords.json.generated)"
              f"\nlogs: {settings.airflow_home}/logs   pids: {settings.airflow_home}/pids\nCtrl-C stops every component.",
              flush=True)
        try:
            while all(p.poll() is None for p in server.procs.values()):
                time.sleep(2)
        except KeyboardInterrupt:
            pass
    return 0


def cmd_quota(args) -> int:
    """Today's units per key and method, each source's budget named: the sample stand-in charges YouTube's units
    for accounting against its own allowance, which is not YouTube's 10,000-unit daily quota."""
    from jobs.sources.quota import DEFAULT_BUDGET, quota_config, quota_day, today
    from videokr.cli.summary import budget_note
    settings = Settings.load()
    day = quota_day()
    rows = today(settings, day)
    print(f"quota day {day} (America/Los_Angeles: YouTube's quota resets at midnight Pacific time)")
    sources = sorted({r["source"] for r in rows} | {settings.search_source})
    for source in sources:
        budget = int(quota_config(settings, source).get("daily_budget", DEFAULT_BUDGET))
        used: dict[str, int] = {}
        for r in rows:
            if r["source"] == source:
                used[r["key_fingerprint"]] = used.get(r["key_fingerprint"], 0) + int(r["units"])
        use = ", ".join(f"key {k}: {u:,} used, {budget - u:,} left ({100 * u / budget:.3g}%)"
                        for k, u in used.items()) or "no calls today"
        print(f"{source}{' (configured search source)' if source == settings.search_source else ''}: {use}\n  "
              + budget_note(source, budget))
    if rows:
        cols = ("source", "key_fingerprint", "method", "calls", "failed", "units", "budget", "left")
        print("  ".join(f"{c:>15}" for c in cols))
        for r in rows:
            print("  ".join(f"{r[c]:>15,}" if isinstance(r[c], numbers.Number) else f"{str(r[c]):>15}" for c in cols))
    return 0


def cmd_kb(args) -> int:
    from jobs.kb.expand import run
    subjects = [s for v in args.subjects for s in v.split(",") if s]
    params = {"accept": args.accept or None, "max_proposals": args.max_proposals}
    print(json.dumps(run(Settings.load(), subjects, params=params), indent=2, default=str))
    return 0


def cmd_benchmarks(args) -> int:
    from jobs.dedup.fetch import run
    params = {"benchmark": args.benchmark or None, "limit": args.limit, "fetch": True if args.force else None}
    summary = run(Settings.load(), params=params)
    print(json.dumps(summary, indent=2, default=str))
    return 0


def cmd_card(args) -> int:
    from jobs.card import run
    print(json.dumps(run(Settings.load(), params={"out": args.out}), indent=2, default=str))
    return 0


def cmd_maintain(args) -> int:
    from jobs.maintenance import run
    given = {"older_than_hours": args.older_than_hours, "grace_hours": args.grace_hours, "keep_snapshots": args.keep}
    params = {"dry_run": args.dry_run} | {k: v for k, v in given.items() if v is not None}  # else videokr.toml
    print(json.dumps(run(Settings.load(), params=params), indent=2, default=str))
    return 0


def register(sub) -> None:
    a = sub.add_parser("airflow", help="the embedded Airflow: init (DB, pools, login) or up (UI on loopback)")
    a.add_argument("action", choices=["init", "up", "env"],
                   help="init: metadata DB, pools and login; up: scheduler, dag-processor, triggerer and api-server; "
                        "env: the Airflow configuration of the settings as shell exports (secrets left out)")
    a.add_argument("--port", type=int, default=8080, help="the api-server's loopback port (default 8080)")
    a.set_defaults(fn=cmd_airflow)

    q = sub.add_parser("quota", help="today's YouTube Data API quota use per key, and which budget applies")
    q.set_defaults(fn=cmd_quota)

    k = sub.add_parser("kb", help="knowledge bank tools")
    k.add_argument("action", choices=["expand"],
                   help="expand: propose new courses, lectures and knowledge points with the generator role")
    k.add_argument("--subjects", nargs="+", required=True, metavar="SUBJECT",
                   help="subject ids to expand (space- or comma-separated)")
    k.add_argument("--accept", nargs="?", const=True, default=None,
                   help="accept valid proposals into the bank: all of them, or a comma-separated list of ids")
    k.add_argument("--max-proposals", type=int, default=None,
                   help="at most this many proposals per subject (default: [kb_expand] max_proposals, else 20)")
    k.set_defaults(fn=cmd_kb)

    b = sub.add_parser("benchmarks", help="evaluation benchmarks: fetch their videos (yt-dlp) for decontamination")
    b.add_argument("action", choices=["fetch"], help="fetch: download the registered benchmarks' videos")
    b.add_argument("--benchmark", action="append", help="only this benchmark (repeat, or comma-separate)")
    b.add_argument("--limit", type=int, default=None, help="try at most N videos not on disk yet")
    b.add_argument("--force", action="store_true", help="fetch even when search_source is 'sample' (offline)")
    b.set_defaults(fn=cmd_benchmarks)

    from videokr.cli import export_cmd
    export_cmd.register(sub)   # export: scope, snapshot, output folder, video mode (videokr/cli/export_cmd.py)

    c = sub.add_parser("card", help="write the dataset card: README.md with PNG plots, and card.html (plots inline)")
    c.add_argument("--out", default=None, help="output folder (default $VIDEOKR_HOME/card)")
    c.set_defaults(fn=cmd_card)

    m = sub.add_parser("maintain", help="warehouse upkeep: merge small files, expire old snapshots (keeping those "
                                        "train_runs/exports/eval_results refer to), delete unneeded files")
    m.add_argument("--dry-run", action="store_true", help="report what would change, change nothing")
    m.add_argument("--older-than-hours", type=float, default=None,
                   help="expire snapshots older than this (default 168); 0 expires all unreferenced ones and "
                        "deletes unneeded files at once (only when nothing else is writing)")
    m.add_argument("--grace-hours", type=float, default=None,
                   help="keep unneeded files this long before deleting them (default 1, capped by --older-than-hours)")
    m.add_argument("--keep", type=int, nargs="*", metavar="SNAPSHOT", help="more snapshot ids to keep")
    m.set_defaults(fn=cmd_maintain)

    from videokr.cli.evalset import register as register_evalset
    register_evalset(sub)
