"""The train -> evaluate chain as launcher jobs, for the DAGs and for `make run` (a tiny model on the sample world).

    jobs = plan(sft="exports/v/videokr/sft.jsonl", rl="exports/v/videokr/rl.jsonl", evals=[...],
                base="models/Qwen2.5-VL-7B-Instruct", runs="runs/2025-..", mode="sft+grpo")
    for job in jobs: launch(job, "local")          # or docker_spec/kubernetes_spec per job in a DAG

    python -m train.pipeline --sft SFT.jsonl --rl RL.jsonl --eval EVAL.jsonl --runs DIR --tiny   # embedded run
    python -m train.pipeline ... --tiny --tiny-args '{"hidden": 256, "layers": 4}' \
        --sft-args '{"lr": 3e-4, "epochs": 20}' --grpo-args '{"max_steps": 40}' --frames 16   # a small model

`--sft-args`, `--grpo-args`, `--eval-args` (JSON objects of the modules' options) override the defaults, the tiny
ones included; `--tiny-args` are build_tiny's keyword arguments.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from train.launchers import TrainJob, launch

MODES = ("sft+grpo", "sft", "zero-rl")
# The embedded run's CPU-sized defaults (overridable per key with --sft-args / --grpo-args / --eval-args).
TINY_ARGS = {"sft": {"frames": 4, "max_steps": 10, "effective_batch": 4, "per_device_batch": 4, "lr": 2e-3},
             "grpo": {"frames": 4, "max_steps": 3, "num_generations": 4, "per_device_batch": 4, "effective_batch": 1,
                      "max_completion_length": 32, "lr": 1e-4},
             "eval": {"max_new_tokens": 32, "limit": 16}}
TINY_FRAMES = [4, 8]


def plan(sft: str | None, rl: str | None, evals: list[str], base: str, runs: str, mode: str = "sft+grpo",
         gpus: int = 1, frames: tuple[int, ...] = (16, 32, 64, 128), sft_args: dict | None = None,
         grpo_args: dict | None = None, eval_args: dict | None = None, record: bool = True) -> list[TrainJob]:
    """SFT (from base) then GRPO (from the SFT output), or GRPO from base (Zero-RL); then evaluate each model."""
    if mode not in MODES:
        raise ValueError(f"unknown mode {mode!r}; expected one of {MODES}")
    runs_dir = Path(runs)
    jobs, models = [], [("base", base)]
    if mode in ("sft+grpo", "sft"):
        out = str(runs_dir / "sft")
        jobs.append(TrainJob("train.sft", {"model": base, "data": sft, "out": out, "record": record,
                                           **(sft_args or {})}, gpus=gpus, name="videokr-sft"))
        models.append(("sft", out))
    if mode in ("sft+grpo", "zero-rl"):
        start = models[-1][1]
        out = str(runs_dir / ("grpo" if mode == "sft+grpo" else "zero-rl"))
        jobs.append(TrainJob("train.grpo", {"model": start, "data": rl, "out": out, "record": record,
                                            **(grpo_args or {})}, gpus=gpus, name="videokr-grpo"))
        models.append(("grpo", out))
    for name, model in models:
        if evals:
            jobs.append(TrainJob("train.evaluate", {"model": model, "data": list(evals), "frames": list(frames),
                                                    "out": str(runs_dir / f"eval-{name}"), "record": record,
                                                    **(eval_args or {})}, gpus=1, name=f"videokr-eval-{name}"))
    return jobs


def _json_object(text: str) -> dict:
    value = json.loads(text)
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError(f"expected a JSON object, got {text!r}")
    return value


def parse(argv: list[str] | None = None) -> tuple[argparse.Namespace, dict]:
    """CLI options, and the per-module arguments they resolve to: {"sft", "grpo", "eval", "tiny", "frames"}."""
    ap = argparse.ArgumentParser(prog="python -m train.pipeline", description=__doc__.split("\n")[0])
    ap.add_argument("--sft")
    ap.add_argument("--rl")
    ap.add_argument("--eval", nargs="*", default=[])
    ap.add_argument("--base", help="base model folder; --tiny builds a tiny random Qwen2.5-VL instead")
    ap.add_argument("--tiny", action="store_true")
    ap.add_argument("--runs", required=True)
    ap.add_argument("--mode", default="sft+grpo", choices=MODES)
    ap.add_argument("--frames", type=int, nargs="+", help="eval frame budgets (16 32 64 128; 4 8 with --tiny)")
    for name in ("tiny", "sft", "grpo", "eval"):
        ap.add_argument(f"--{name}-args", type=_json_object, default={}, metavar="JSON",
                        help=f"JSON object of {'build_tiny' if name == 'tiny' else 'train.' + name} options")
    ap.add_argument("--no-record", action="store_true")
    ap.add_argument("--keep-going", action="store_true", help="after a failed job, still run the rest")
    a = ap.parse_args(argv)
    if not (a.base or a.tiny):
        ap.error("--base or --tiny is required")
    defaults = TINY_ARGS if a.tiny else {}
    args = {k: {**defaults.get(k, {}), **getattr(a, f"{k}_args")} for k in ("sft", "grpo", "eval")}
    args["tiny"] = dict(a.tiny_args)
    args["frames"] = a.frames or (TINY_FRAMES if a.tiny else [16, 32, 64, 128])
    return a, args


def main(argv: list[str] | None = None) -> list[dict]:
    a, args = parse(argv)
    Path(a.runs).mkdir(parents=True, exist_ok=True)
    base = a.base
    if a.tiny:  # the embedded run: a tiny random model (CPU-sized steps unless overridden)
        from train.tiny import build_tiny
        base = str(build_tiny("qwen2_5_vl", Path(a.runs) / "base-tiny", **args["tiny"]))
    jobs = plan(a.sft, a.rl, a.eval, base, a.runs, a.mode, frames=tuple(args["frames"]), sft_args=args["sft"],
                grpo_args=args["grpo"], eval_args=args["eval"], record=not a.no_record)
    results = []
    for job in jobs:  # each job's full output goes to RUNS/<job name>.log
        try:
            res = launch(job, "local", log_path=Path(a.runs) / f"{job.job_name}.log")
            results.append({"module": job.module, "seconds": res["seconds"], "last": res["stdout"].strip()[-400:]})
        except RuntimeError as exc:
            if not a.keep_going:
                raise
            results.append({"module": job.module, "name": job.job_name, "failed": str(exc)[-2000:]})
        print(json.dumps(results[-1]), flush=True)
    return results


if __name__ == "__main__":
    main()
