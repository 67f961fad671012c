"""The train -> evaluate chain as launcher jobs, for the DAGs and for `make run` (a tiny model on the sample world).

    jobs = plan(sft="exports/v/videokr/sft.jsonl", rl="exports/v/videokr/rl.jsonl", evals=[...],
                base="models/Qwen2.5-VL-7B-Instruct", runs="runs/2025-..", mode="sft+grpo")
    for job in jobs: launch(job, "local")          # or docker_spec/kubernetes_spec per job in a DAG

    python -m train.pipeline --sft SFT.jsonl --rl RL.jsonl --eval EVAL.jsonl --runs DIR --tiny   # embedded run
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from train.launchers import TrainJob, launch

MODES = ("sft+grpo", "sft", "zero-rl")


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


def main(argv: list[str] | None = None) -> list[dict]:
    ap = argparse.ArgumentParser(prog="python -m train.pipeline", description=__doc__.split("\n")[0])
    ap.add_argument("--sft")
    ap.add_argument("--rl")
    ap.add_argument("--eval", nargs="*", default=[])
    ap.add_argument("--base", help="base model folder; --tiny builds a tiny random Qwen2.5-VL instead")
    ap.add_argument("--tiny", action="store_true")
    ap.add_argument("--runs", required=True)
    ap.add_argument("--mode", default="sft+grpo", choices=MODES)
    ap.add_argument("--frames", type=int, nargs="+", default=[16, 32, 64, 128])
    ap.add_argument("--no-record", action="store_true")
    a = ap.parse_args(argv)
    sft_args = grpo_args = eval_args = None
    base = a.base
    if a.tiny:  # the embedded run: a tiny random model, a few CPU-sized steps
        from train.tiny import build_tiny
        base = str(build_tiny("qwen2_5_vl", Path(a.runs) / "base-tiny"))
        sft_args = {"frames": 4, "max_steps": 10, "effective_batch": 4, "per_device_batch": 4, "lr": 2e-3}
        grpo_args = {"frames": 4, "max_steps": 3, "num_generations": 4, "per_device_batch": 4,
                     "effective_batch": 1, "max_completion_length": 32, "lr": 1e-4}
        eval_args = {"max_new_tokens": 32, "limit": 16}
    if not base:
        ap.error("--base or --tiny is required")
    jobs = plan(a.sft, a.rl, a.eval, base, a.runs, a.mode, frames=tuple(a.frames if not a.tiny else [4, 8]),
                sft_args=sft_args, grpo_args=grpo_args, eval_args=eval_args, record=not a.no_record)
    results = []
    for job in jobs:
        res = launch(job, "local")
        results.append({"module": job.module, "seconds": res["seconds"], "last": res["stdout"].strip()[-400:]})
        print(json.dumps(results[-1]))
    return results


if __name__ == "__main__":
    main()
