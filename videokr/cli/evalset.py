"""`videokr evalset build`: curate the evaluation set (jobs/evalset.py) and print its summary as JSON."""
from __future__ import annotations

import json

from videokr.settings import Settings


def cmd_evalset(args) -> int:
    from jobs.evalset import run
    params = {"out": args.out, "n": args.n, "m": args.m}
    print(json.dumps(run(Settings.load(), params=params), indent=2, default=str))
    return 0


def register(sub) -> None:
    e = sub.add_parser("evalset", help="the evaluation set: keep the fetched benchmark items that need the video, "
                                       "send the others to the review page for re-annotation, export JSONL")
    e.add_argument("action", choices=["build"], help="build: curate, send to review, export")
    e.add_argument("--out", default=None, help="export folder (default $VIDEOKR_HOME/exports)")
    e.add_argument("--n", type=int, default=None, help="blind tries per item (default: [verify] n)")
    e.add_argument("--m", type=int, default=None, help="correct blind tries that send an item to re-annotation")
    e.set_defaults(fn=cmd_evalset)
