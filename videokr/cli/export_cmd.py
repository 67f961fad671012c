"""`videokr export`: the export stage from the command line, with its scope, snapshot, output folder and video mode."""
from __future__ import annotations

import json
from pathlib import Path

from videokr.settings import Settings

FORMATS = ["videokr", "llamafactory", "verl", "trl"]
VIDEO_MODES = ["link", "copy", "absolute"]


def cmd_export(args) -> int:
    from jobs.export import run
    from jobs.scope import check_subjects
    settings = Settings.load()
    subjects = check_subjects("export", [s.strip() for v in args.subjects or [] for s in v.split(",") if s.strip()],
                              settings)   # unknown subjects: refused (rc 2), named with the known ones
    params = {"formats": args.format, "out": args.out, "snapshot": args.snapshot, "videos": args.videos}
    print(summary(run(settings, subjects or None, params=params), subjects))
    return 0


def summary(res: dict, subjects: list[str]) -> str:
    """A few lines a person reads: what was exported, where, and what was left out or came out empty."""
    ex, excl = res["examples"], {k: v for k, v in res["excluded"].items() if v}
    lines = [f"export at snapshot {res['snapshot_id']} for {', '.join(subjects) or 'all subjects'}: "
             f"{ex['sft']} sft + {ex['rl']} rl examples"
             + (f" (left out: {', '.join(f'{n} {k}' for k, n in excl.items())})" if excl else ""),
             f"videos: {res['videos']['count']} ({res['videos']['mode']})"]
    empty = []
    for fmt, folder in res["exports"].items():
        files = json.loads((Path(folder) / "manifest.json").read_text())["files"]
        rows = ", ".join(f"{name} {m['rows']}" for name, m in files.items() if m["rows"] is not None)
        empty += [f"{fmt}/{name}" for name, m in files.items() if m["rows"] == 0]
        lines.append(f"  {fmt:<13} {folder}  ({rows})")
    if empty:
        lines.append(f"note: {', '.join(empty)} hold 0 rows: no example of this scope fell in that split")
    if excl.get("missing_video"):
        lines.append("note: examples whose video file is missing were left out; see `videokr sql "
                     "\"SELECT * FROM quarantine WHERE stage = 'export'\"`")
    return "\n".join(lines)


def register(sub) -> None:
    e = sub.add_parser("export", help="export the splits for training tools (VideoKR/Video-R1 JSONL, LLaMA-Factory, "
                                      "verl, TRL), one folder per format that holds its videos")
    e.add_argument("--format", nargs="+", choices=FORMATS, default=FORMATS, metavar="FORMAT",
                   help=f"formats to write (default all: {' '.join(FORMATS)})")
    e.add_argument("--subjects", nargs="+", metavar="SUBJECT",
                   help="only these subjects (space- or comma-separated; default all); the folder names them")
    e.add_argument("--snapshot", type=int, default=None,
                   help="warehouse snapshot to read (default: the newest that changed the exported tables); "
                        "the same snapshot gives byte-identical files")
    e.add_argument("--out", default=None, help="output folder (default $VIDEOKR_HOME/exports)")
    e.add_argument("--videos", choices=VIDEO_MODES, default="link",
                   help="link (default): symlinks under <folder>/videos; copy: real files there (the folder travels "
                        "whole); absolute: no videos in the folder, absolute paths into the media store")
    e.set_defaults(fn=cmd_export)
