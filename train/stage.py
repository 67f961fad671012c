"""The `train` and `evaluate` stages: what their DAGs run.

train:    `prepare`: export the splits (VideoKR JSONL) at the current warehouse snapshot, carve a held-out eval set
          from the RL split by video, plan SFT -> GRPO (or Zero-RL), and turn each job into what its launcher needs
          (train.launchers.launch_spec: the job for `local`, DockerOperator / KubernetesPodOperator kwargs for
          `docker` / `kubernetes`). The DAG runs them as tasks on the `gpu` queue (dags/launchers.py). `finish`:
          checks each job left its model, writes the plan (models for `evaluate`) and says what was launched.
          `train.sft`/`train.grpo` record `train_runs` with the snapshot and export manifest they read.
evaluate: evaluate the base model and every model the last train run produced on the held-out set (and any
          benchmark-format files given), at the configured frame budgets, into `eval_results`; a model whose files,
          data and options are unchanged since its evaluation committed is not launched again. The local launcher
          evaluates the models in one process (`--batch`); docker/kubernetes launch one container per model.

Jobs always pass `--resume` and checkpoint every `[train] save_steps`: a retried (killed) task goes on from its last
complete checkpoint. `run` / `evaluate_run` do prepare -> local launches -> finish in one process (`videokr stage`).

Embedded default (`make run`): a tiny random Qwen2.5-VL (train/tiny.py) and CPU-sized steps. It proves the
machinery end to end; its accuracy is not a model result. Set `[train] base = "/models/Qwen2.5-VL-7B-Instruct"`
(and `launcher = "docker" | "kubernetes"`) for real runs.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
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
        key = "path" if "path" in row else "video_path"
        h = hashlib.sha256(f"eval:{seed}:{row[key]}".encode()).digest()
        row[key] = os.path.join(rl_jsonl.parent.absolute(), row[key])   # the export's relative paths, from out_dir
        if int.from_bytes(h[:8], "big") / 2**64 < fraction:
            held.append(json.dumps(row | {"subject_id": (subjects or {}).get(row["problem_id"], "")}))
        else:
            keep.append(json.dumps(row))
    out_dir.mkdir(parents=True, exist_ok=True)
    grpo, ev = out_dir / "grpo.jsonl", out_dir / "eval.jsonl"
    grpo.write_text("".join(x + "\n" for x in keep))
    ev.write_text("".join(x + "\n" for x in held))
    return grpo, ev, len(held)


def _config(settings: Settings, params: dict | None) -> dict:
    cfg = {"base": "", "mode": "sft+grpo", "launcher": "local", "eval_fraction": 0.25, "frames": list(TINY_FRAMES),
           "benchmarks": [], "retrain": False, "save_steps": None} | settings.section("train")
    return cfg | {k: v for k, v in (params or {}).items() if v not in (None, "") and k != "airflow_run_id"}


def _base(cfg: dict, runs: Path) -> tuple[str, bool]:
    if cfg["base"]:
        return cfg["base"], False
    from train.tiny import build_tiny
    return str(build_tiny("qwen2_5_vl", runs / "base-tiny")), True


def described(job, spec: dict, launcher: str) -> dict:
    """What a launch is, for the stage's result and `runs`: module, output, launcher, image, command, pod/GPUs."""
    from train.launchers import command
    d = {"module": job.module, "name": job.job_name, "out": job.args.get("out"), "launcher": launcher,
         "gpus": job.gpus}
    if launcher == "docker":
        d |= {"image": spec["image"], "command": spec["command"], "gpus": spec["device_requests"][0]["count"],
              "mounts": [f"{m['source']}:{m['target']}" for m in spec["mounts"]]}
    elif launcher == "kubernetes":
        limits = spec["pod_template_dict"]["spec"]["containers"][0]["resources"]["limits"]
        d |= {"image": spec["image"], "command": spec["cmds"] + spec["arguments"], "pod": spec["name"],
              "namespace": spec["namespace"], "gpus": int(limits["nvidia.com/gpu"])}
    else:
        d |= {"command": command(job)}
    return d


def prepare(settings: Settings | None = None, subjects: list[str] | None = None, params: dict | None = None) -> dict:
    """Export, carve, plan; returns {"launches": {"sft": [spec], "grpo": [spec]} (an empty list: that step does not
    run), "jobs", "launched" (what each launch is), "changed"} for the DAG's launch tasks and `finish`."""
    from jobs.export import export
    from train.launchers import LAUNCHERS, launch_spec
    from train.pipeline import plan
    settings = settings or Settings.load()
    cfg = _config(settings, params)
    if cfg["launcher"] not in LAUNCHERS:
        raise ValueError(f"[train] launcher {cfg['launcher']!r}: expected one of {LAUNCHERS}")
    with Warehouse(settings) as wh, stage_run(wh, "train", {"subjects": subjects or []},
                                              {k: str(v) for k, v in cfg.items()}) as r:
        m = export(settings, "videokr", settings.home / "exports")
        recipe = hashlib.sha256(json.dumps([cfg["base"], cfg["mode"]]).encode()).hexdigest()[:8]
        runs = settings.home / "runs" / f"{Path(m['out_dir']).name}-{cfg['mode']}-{recipe}"
        plan_file = runs / "plan.json"
        out = {"run_id": r.run_id, "stage": "train", "plan": str(plan_file), "runs": str(runs),
               "snapshot_id": m["snapshot_id"], "launcher": cfg["launcher"], "launches": {"sft": [], "grpo": []},
               "jobs": [], "launched": [], "rows": {}}
        if plan_file.exists() and not cfg.get("retrain"):  # this export (same data, same snapshot) is trained
            return out | {"skipped": True, "changed": False,
                          "snapshot_id": json.loads(plan_file.read_text())["snapshot_id"]}
        if plan_file.exists():                              # retrain: start over, not from old checkpoints
            plan_file.unlink()
            for step in ("sft", "grpo", "zero-rl"):
                shutil.rmtree(runs / step, ignore_errors=True)
        subject_of = dict(wh.query("SELECT candidate_id, subject_id FROM verified_qa").iter_rows())
        grpo_data, eval_data, n_eval = held_out(Path(m["out_dir"]) / "rl.jsonl", runs / "data",
                                                float(cfg["eval_fraction"]), settings.seed, subject_of)
        base, tiny = _base(cfg, runs)
        every = {"resume": True} | ({"save_steps": int(cfg["save_steps"])} if cfg["save_steps"] else {})
        jobs = plan(str(Path(m["out_dir"]) / "sft.jsonl"), str(grpo_data), [], base, str(runs), cfg["mode"],
                    sft_args=(TINY["sft"] if tiny else {}) | every, grpo_args=(TINY["grpo"] if tiny else {}) | every)
        for job in jobs:
            spec = launch_spec(job, cfg["launcher"], cfg, settings.home)
            out["launches"][job.module.split(".")[-1]].append(spec)
            out["launched"].append(described(job, spec, cfg["launcher"]))
            out["jobs"].append(job.to_dict())
        out |= {"base": base, "tiny": tiny, "eval": str(eval_data), "n_eval": n_eval, "export": m["out_dir"],
                "skipped": False, "changed": True}
        r.params["launched"] = out["launched"]
        return out


def finish(settings: Settings | None, prepared: dict) -> dict:
    """After the launches: each job must have left its run summary (`<out>/videokr_run.json`); write the plan (the
    models `evaluate` reads) and return the stage result with what was launched and what each run reached."""
    settings = settings or Settings.load()
    if prepared.get("skipped"):
        return {k: prepared[k] for k in ("run_id", "stage", "rows", "plan", "snapshot_id", "changed", "skipped")}
    launched = []
    for job, what in zip(prepared["jobs"], prepared["launched"]):
        summary = Path(job["args"]["out"]) / "videokr_run.json"
        if not summary.is_file():
            raise RuntimeError(f"{job['module']} ({what['launcher']}): no run summary at {summary}; the launch "
                               f"ended without saving its model")
        s = json.loads(summary.read_text())
        launched.append(what | {"global_step": s.get("global_step"), "train_loss": s.get("train_loss"),
                                "resumed_from": s.get("resumed_from"), "seconds": s.get("seconds")})
    models = [("base", prepared["base"])] + [(Path(j["args"]["out"]).name, j["args"]["out"]) for j in prepared["jobs"]]
    Path(prepared["plan"]).write_text(json.dumps({k: prepared[k] for k in ("base", "tiny", "eval", "n_eval", "export",
                                                                          "runs", "snapshot_id", "launcher")}
                                                 | {"models": models, "launched": launched}, indent=2))
    return {"run_id": prepared["run_id"], "stage": "train", "rows": {}, "plan": prepared["plan"],
            "launched": launched, "snapshot_id": prepared["snapshot_id"], "changed": True}


def run(settings: Settings | None = None, subjects: list[str] | None = None, params: dict | None = None) -> dict:
    """prepare -> each job through the local launcher -> finish, in this process (`videokr stage train`)."""
    from train.launchers import TrainJob, launch
    settings = settings or Settings.load()
    _local_only(_config(settings, params)["launcher"], "train.sft")
    prepared = prepare(settings, subjects, params)
    for step in ("sft", "grpo"):
        for spec in prepared["launches"][step]:
            launch(TrainJob(**spec), "local")
    return finish(settings, prepared)


def _local_only(launcher: str, module: str) -> None:
    """Outside the DAG only the local launcher can run a job: fail before any work, saying how to run it."""
    if launcher != "local":
        from train.launchers import TrainJob, launch
        launch(TrainJob(module, {}), launcher)


def latest_plan(settings: Settings) -> dict:
    plans = sorted((settings.home / "runs").glob("*/plan.json"), key=lambda p: p.stat().st_mtime)
    if not plans:
        raise RuntimeError("no trained models yet: run the train stage first")
    return json.loads(plans[-1].read_text())


def prepare_evaluate(settings: Settings | None = None, subjects: list[str] | None = None,
                     params: dict | None = None) -> dict:
    """The evaluations to launch ({"launches": {"evaluate": [spec, ...]}}): one per model of the last plan whose
    files, eval data and options changed since its evaluation committed (those unchanged are skipped)."""
    from train.launchers import TrainJob, launch_spec
    from warehouse.runs import file_sha256, fingerprint
    settings = settings or Settings.load()
    cfg = _config(settings, params)
    p = latest_plan(settings)
    data = [p["eval"], *cfg["benchmarks"]]
    with Warehouse(settings) as wh, stage_run(wh, "evaluate", {"subjects": subjects or []},
                                              {"plan": json.dumps(p), "data": json.dumps(data)}) as r:
        jobs = {}
        for name, model in p["models"]:
            args = {"model": model, "data": data, "frames": list(cfg["frames"]), "record": True,
                    "out": str(Path(p["runs"]) / f"eval-{name}")} | (TINY["eval"] if p["tiny"] else {})
            fp = fingerprint(model_identity(model), [file_sha256(d) for d in data], {k: v for k, v in args.items()
                                                                             if k != "out"})
            jobs[f"{p['runs']}/{name}"] = (name, args, fp)
        done = r.fingerprints(list(jobs))
        out = {"run_id": r.run_id, "stage": "evaluate", "rows": {}, "launcher": cfg["launcher"],
               "launches": {"evaluate": []}, "jobs": [], "launched": [], "items": {}, "skipped": 0}
        todo = []
        for item, (name, args, fp) in jobs.items():
            if done.get(item) == fp:
                out["skipped"] += 1
                continue
            todo.append(TrainJob("train.evaluate", args, name=f"videokr-eval-{name}"))
            out["items"][item] = fp
        if cfg["launcher"] == "local" and len(todo) > 1:
            # one process evaluates them in turn: torch and transformers are imported once, not once per model
            # (on one GPU worker they would run one after another anyway); containers keep one launch per model
            todo = [TrainJob("train.evaluate", {"batch": json.dumps([j.args for j in todo])}, name="videokr-eval")]
        for job in todo:
            spec = launch_spec(job, cfg["launcher"], cfg, settings.home)
            out["launches"]["evaluate"].append(spec)
            out["launched"].append(described(job, spec, cfg["launcher"]))
            out["jobs"].append(job.to_dict())
        r.skipped = out["skipped"]
        return out | {"changed": bool(out["jobs"])}


def model_identity(model_path: str) -> str:
    """Names, sizes and mtimes of the model folder's files: a retrain into the same folder is a new model."""
    from warehouse.runs import fingerprint
    root = Path(model_path)
    if not root.is_dir():
        return model_path
    return fingerprint(sorted((str(f.relative_to(root)), f.stat().st_size, f.stat().st_mtime_ns)
                              for f in root.rglob("*") if f.is_file()))


def finish_evaluate(settings: Settings | None, prepared: dict) -> dict:
    """Mark the launched evaluations done (their fingerprints), so an unchanged model is not evaluated again."""
    settings = settings or Settings.load()
    with Warehouse(settings) as wh, stage_run(wh, "evaluate", {}, {"launched": prepared["launched"]},
                                              run_id=prepared["run_id"]) as r:
        r.mark_done({item: (fp, None) for item, fp in prepared["items"].items()})
        r.skipped = prepared["skipped"]
    return {"run_id": prepared["run_id"], "stage": "evaluate", "rows": {}, "models": prepared["launched"],
            "skipped": prepared["skipped"], "changed": bool(prepared["jobs"])}


def evaluate_run(settings: Settings | None = None, subjects: list[str] | None = None, params: dict | None = None) -> dict:
    """prepare_evaluate -> each evaluation through the local launcher -> finish_evaluate (`videokr stage evaluate`)."""
    from train.launchers import TrainJob, launch
    settings = settings or Settings.load()
    _local_only(_config(settings, params)["launcher"], "train.evaluate")
    prepared = prepare_evaluate(settings, subjects, params)
    for spec in prepared["launches"]["evaluate"]:
        launch(TrainJob(**spec), "local")
    return finish_evaluate(settings, prepared)
