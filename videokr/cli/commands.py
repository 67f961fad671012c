"""CLI commands beyond run/stage/sql/sample: airflow, quota, kb, benchmarks, export, card, maintain."""
from __future__ import annotations

import json
import time

from videokr.settings import Settings


def cmd_airflow(args) -> int:
    settings = Settings.load()
    if args.action == "init":
        from videokr.cli.airflow_admin import POOLS, init
        login = init(settings)
        print(f"airflow home: {settings.airflow_home}\npools: {', '.join(POOLS)}\nlogin: {login['user']} / {login['password']}")
        return 0
    from videokr.cli.airflow_server import AirflowServer
    with AirflowServer(settings, port=args.port) as server:
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
    from jobs.sources.quota import format_today
    print(format_today(Settings.load()))
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


def cmd_export(args) -> int:
    from jobs.export import run
    params = {"formats": args.format, "out": args.out}
    print(json.dumps(run(Settings.load(), params=params), indent=2, default=str))
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
    a.add_argument("action", choices=["init", "up"])
    a.add_argument("--port", type=int, default=8080)
    a.set_defaults(fn=cmd_airflow)

    q = sub.add_parser("quota", help="today's YouTube Data API quota use per key")
    q.set_defaults(fn=cmd_quota)

    k = sub.add_parser("kb", help="knowledge bank tools")
    k.add_argument("action", choices=["expand"])
    k.add_argument("--subjects", nargs="+", required=True)
    k.add_argument("--accept", nargs="?", const=True, default=None,
                   help="accept valid proposals into the bank: all of them, or a comma-separated list of ids")
    k.add_argument("--max-proposals", type=int, default=None)
    k.set_defaults(fn=cmd_kb)

    b = sub.add_parser("benchmarks", help="evaluation benchmarks: fetch their videos (yt-dlp) for decontamination")
    b.add_argument("action", choices=["fetch"])
    b.add_argument("--benchmark", action="append", help="only this benchmark (repeat, or comma-separate)")
    b.add_argument("--limit", type=int, default=None, help="try at most N videos not on disk yet")
    b.add_argument("--force", action="store_true", help="fetch even when search_source is 'sample' (offline)")
    b.set_defaults(fn=cmd_benchmarks)

    e = sub.add_parser("export", help="export the splits for training tools")
    e.add_argument("--format", nargs="+", choices=["videokr", "llamafactory", "verl", "trl"],
                   default=["videokr", "llamafactory", "verl", "trl"])
    e.add_argument("--out", default=None)
    e.set_defaults(fn=cmd_export)

    c = sub.add_parser("card", help="write the dataset card (Markdown + plots)")
    c.add_argument("--out", default=None)
    c.set_defaults(fn=cmd_card)

    m = sub.add_parser("maintain", help="warehouse upkeep: merge small files, expire old snapshots (keeping those "
                                        "train_runs/exports/eval_results refer to), delete unneeded files")
    m.add_argument("--dry-run", action="store_true", help="report what would change, change nothing")
    m.add_argument("--older-than-hours", type=float, default=None,
                   help="expire snapshots older than this (default 168); 0 expires all unreferenced ones and "
                        "deletes unneeded files at once (only when nothing else is writing)")
    m.add_argument("--grace-hours", type=float, default=None,
                   help="keep unneeded files this long before deleting them (default 1, capped by --older-than-hours)")
    m.add_argument("--keep", type=int, nargs="*", help="more snapshot ids to keep")
    m.set_defaults(fn=cmd_maintain)
