"""The `train` and `evaluate` stages: what their DAGs run.

train:    export the splits (VideoKR JSONL) at the current warehouse snapshot, carve a held-out eval set from the
          RL split by video, then SFT -> GRPO (or Zero-RL) through a launcher. `train.sft`/`train.grpo` record
          `train_runs` with the snapshot and export manifest they read.
evaluate: evaluate the base model and every model the last train run produced on the held-out set (and any
          benchmark-format files given), at the configured frame budgets, into `eval_results`.

Embedded default (`make run`): a tiny random Qwen2.5-VL (train/tiny.py) and CPU-sized steps. It proves the
machinery end to end; its accuracy is not a model result. Set `[train] base = "/models/Qwen2.5-VL-7B-Instruct"`
(and `launcher = "docker" | "kubernetes"`) for real runs.
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

from train.pipeline import TINY_ARGS as TINY, TINY_FRAMES  # the embedded run's CPU-sized steps
from videokr.settings import Settings
from warehouse import Warehouse, stage_run


def held_out(rl_jsonl: Path, out_dir: Path, fraction: float, seed: int,
             subjects: dict[str, str] | None = None) -> tuple[Path, Path, int]:
    """Split RL examples by video into (grpo.jsonl, eval.jsonl): a video's examples stay on one side. Eval rows
    also get `subject_id` (from the warehouse, by problem_id) so accuracy can be reported per subject."""
    keep, held = [], []
    for line in rl_jsonl.read_text().splitlines():
        row = json.loads(line)
        h = hashlib.sha256(f"eval:{seed}:{row['video_path']}".encode()).digest()
        if int.from_bytes(h[:8], "big") / 2**64 < fraction:
            held.append(json.dumps(row | {"subject_id": (subjects or {}).get(row["problem_id"], "")}))
        else:
            keep.append(line)
    out_dir.mkdir(parents=True, exist_ok=True)
    grpo, ev = out_dir / "grpo.jsonl", out_dir / "eval.jsonl"
    grpo.write_text("".join(x + "\n" for x in keep))
    ev.write_text("".join(x + "\n" for x in held))
    return grpo, ev, len(held)


def _config(settings: Settings, params: dict | None) -> dict:
    cfg = {"base": "", "mode": "sft+grpo", "launcher": "local", "eval_fraction": 0.25, "frames": list(TINY_FRAMES),
           "benchmarks": [], "retrain": False} | settings.section("train")
    return cfg | {k: v for k, v in (params or {}).items() if v not in (None, "")}


def _base(cfg: dict, runs: Path) -> tuple[str, bool]:
    if cfg["base"]:
        return cfg["base"], False
    from train.tiny import build_tiny
    return str(build_tiny("qwen2_5_vl", runs / "base-tiny")), True


def run(settings: Settings | None = None, subjects: list[str] | None = None, params: dict | None = None) -> dict:
    from jobs.export import export
    from train.launchers import launch
    from train.pipeline import plan
    settings = settings or Settings.load()
    cfg = _config(settings, params)
    with Warehouse(settings) as wh, stage_run(wh, "train", {"subjects": subjects or []},
                                              {k: str(v) for k, v in cfg.items()}) as r:
        m = export(settings, "videokr", settings.home / "exports")
        recipe = hashlib.sha256(json.dumps([cfg["base"], cfg["mode"]]).encode()).hexdigest()[:8]
        runs = settings.home / "runs" / f"{Path(m['out_dir']).name}-{cfg['mode']}-{recipe}"
        plan_file = runs / "plan.json"
        if plan_file.exists() and not cfg.get("retrain"):  # this export (same data, same snapshot) is trained
            done = json.loads(plan_file.read_text())
            return {"run_id": r.run_id, "stage": "train", "rows": {}, "plan": str(plan_file), "skipped": True,
                    "snapshot_id": done["snapshot_id"], "changed": False}
        subject_of = dict(wh.query("SELECT candidate_id, subject_id FROM verified_qa").iter_rows())
        grpo_data, eval_data, n_eval = held_out(Path(m["out_dir"]) / "rl.jsonl", runs / "data",
                                                float(cfg["eval_fraction"]), settings.seed, subject_of)
        base, tiny = _base(cfg, runs)
        jobs = plan(str(Path(m["out_dir"]) / "sft.jsonl"), str(grpo_data), [], base, str(runs), cfg["mode"],
                    sft_args=TINY["sft"] if tiny else None, grpo_args=TINY["grpo"] if tiny else None)
        done = []
        for job in jobs:
            res = launch(job, cfg["launcher"])
            done.append({"module": job.module, "out": job.args.get("out"), "seconds": res.get("seconds")})
        plan_file.write_text(json.dumps({"base": base, "tiny": tiny, "eval": str(eval_data), "n_eval": n_eval,
                                         "export": m["out_dir"], "runs": str(runs), "snapshot_id": m["snapshot_id"],
                                         "models": [("base", base)] + [(Path(d["out"]).name, d["out"]) for d in done]},
                                        indent=2))
        return {"run_id": r.run_id, "stage": "train", "rows": dict(r.rows), "plan": str(plan_file), "jobs": done,
                "snapshot_id": m["snapshot_id"], "changed": True}


def latest_plan(settings: Settings) -> dict:
    plans = sorted((settings.home / "runs").glob("*/plan.json"), key=lambda p: p.stat().st_mtime)
    if not plans:
        raise RuntimeError("no trained models yet: run the train stage first")
    return json.loads(plans[-1].read_text())


def evaluate_run(settings: Settings | None = None, subjects: list[str] | None = None, params: dict | None = None) -> dict:
    """Evaluate each model of the last plan; a model whose files, eval data and options are unchanged since its
    evaluation committed is not launched again (no container, no model load)."""
    from train.common import file_sha256
    from train.evaluate import model_identity
    from train.launchers import TrainJob, launch
    from warehouse.runs import fingerprint
    settings = settings or Settings.load()
    cfg = _config(settings, params)
    p = latest_plan(settings)
    data = [p["eval"], *cfg["benchmarks"]]
    with Warehouse(settings) as wh, stage_run(wh, "evaluate", {"subjects": subjects or []},
                                              {"plan": json.dumps(p), "data": json.dumps(data)}) as r:
        out, jobs = [], {}
        for name, model in p["models"]:
            args = {"model": model, "data": data, "frames": list(cfg["frames"]), "record": True,
                    "out": str(Path(p["runs"]) / f"eval-{name}")} | (TINY["eval"] if p["tiny"] else {})
            fp = fingerprint(model_identity(model), [file_sha256(d) for d in data], {k: v for k, v in args.items()
                                                                                  if k != "out"})
            jobs[f"{p['runs']}/{name}"] = (name, args, fp)
        done = r.fingerprints(list(jobs))
        for item, (name, args, fp) in jobs.items():
            if done.get(item) == fp:
                r.skipped += 1
                continue
            res = launch(TrainJob("train.evaluate", args, name=f"videokr-eval-{name}"), cfg["launcher"])
            r.mark_done({item: (fp, None)})
            out.append({"model": name, "seconds": res.get("seconds")})
        return {"run_id": r.run_id, "stage": "evaluate", "rows": dict(r.rows), "models": out,
                "skipped": r.skipped, "changed": bool(out)}
