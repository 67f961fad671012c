"""The shared `python -m train.sft|train.grpo` command line: flags from a params dataclass, run, optionally record
a train_runs row. Its own module so that train.common imports neither the entry points nor the warehouse records."""
from __future__ import annotations

import argparse
import json
import logging
from dataclasses import asdict

from train.records import record_train_run


def add_args(ap: argparse.ArgumentParser, defaults) -> None:
    for name, value in asdict(defaults).items():
        flag = "--" + name.replace("_", "-")
        if name in ("model", "data", "out"):
            ap.add_argument(flag, required=True)
        elif isinstance(value, bool) or name in ("bf16", "compile_blocks"):
            ap.add_argument(flag, action=argparse.BooleanOptionalAction, default=value)
        else:
            kind = type(value) if value is not None else str
            if name in ("max_length", "save_total_limit"):
                kind = int
            ap.add_argument(flag, type=kind, default=value)



def cli_main(prog: str, doc: str, params_cls, run, argv: list[str] | None = None) -> dict:
    """The shared `python -m train.sft|train.grpo` entry point: flags from the params dataclass, run, optionally
    record a train_runs row, print a one-line summary."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    ap = argparse.ArgumentParser(prog=prog, description=doc.split("\n")[0])
    add_args(ap, params_cls("", "", ""))
    ap.add_argument("--record", action="store_true", help="write a train_runs row to the warehouse (VIDEOKR_HOME)")
    args = vars(ap.parse_args(argv))
    record = args.pop("record")
    summary = run(params_cls(**args))
    if record:
        summary["recorded"] = record_train_run(summary)
    print(json.dumps({k: summary[k] for k in ("kind", "global_step", "train_loss", "output_dir")}))
    return summary
