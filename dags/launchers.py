"""The shape of the GPU stage DAGs (train, evaluate): the stage prepares launch specs, each step runs them as tasks
of the configured launcher on the `gpu` queue, the stage finishes, publish emits the asset event.

    scope.check_subjects -> work.prepare -> work.<step>_specs -> work.<step> (mapped over them) ... -> work.finish
        -> work.publish

- `[train] launcher` (videokr.toml, read when the DAG is parsed) picks the task type: `local` a Python task that runs
  `python -m train.<module>` as a subprocess (train.launchers.run_local), `docker` a DockerOperator,
  `kubernetes` a KubernetesPodOperator. The operator kwargs come from train.launchers.launch_spec via the prepare
  task's XCom, so nothing from train/ is imported at parse time.
- A step's task is mapped over a list of 0 or 1 (train) or N (evaluate) specs: an empty list skips it (the mode has
  no such step, or nothing changed). Steps run in order; the next one also runs when the previous was skipped.
- Launch tasks: queue "gpu" (Celery workers started with `--queues gpu` take them), pool "gpu", `[train] retries`
  retries (default 3); the jobs resume from their last checkpoint, so a retry goes on where the killed try stopped.
"""
from __future__ import annotations

from datetime import timedelta

from airflow.sdk import DAG, TaskGroup, task

from dags.common import (DEFAULT_ARGS, asset, deadline_alert, form_friendly, record_failure, scope_check,
                         subjects_param)

GPU_QUEUE = "gpu"
LAUNCHERS = ("local", "docker", "kubernetes")


def train_settings() -> dict:
    from videokr.settings import Settings
    return Settings.load().section("train")


def launch_tasks(step: str, specs, launcher: str, retries: int, timeout: timedelta, pool: str = "gpu"):
    """The mapped task that runs `step`'s specs with `launcher`."""
    common = dict(task_id=step, queue=GPU_QUEUE, pool=pool, retries=retries, execution_timeout=timeout,
                  retry_exponential_backoff=DEFAULT_ARGS["retry_exponential_backoff"],
                  trigger_rule="none_failed")
    if launcher == "local":
        @task(**common)
        def run_job(job: dict) -> dict:
            from train.launchers import TrainJob, run_local
            res = run_local(TrainJob(**job))           # streams the job's lines into this task's log
            return {"module": job["module"], "seconds": res["seconds"], "last": res["stdout"].strip()[-400:]}
        return run_job.expand(job=specs)
    if launcher == "docker":
        from airflow.providers.docker.operators.docker import DockerOperator
        return DockerOperator.partial(**common, do_xcom_push=False).expand_kwargs(specs)
    if launcher == "kubernetes":
        from airflow.providers.cncf.kubernetes.operators.pod import KubernetesPodOperator
        return KubernetesPodOperator.partial(**common, do_xcom_push=False).expand_kwargs(specs)
    raise ValueError(f"[train] launcher {launcher!r}: expected one of {LAUNCHERS}")


def launch_dag(stage: str, *, steps: list[str], prepare: str, finish: str, schedule, outlets: list[str],
               doc_md: str, tags: list[str], params: dict | None = None, timeout: timedelta = timedelta(hours=6),
               deadline: timedelta | None = None) -> DAG:
    """The DAG of a GPU stage; `prepare`/`finish` name functions of train.stage (imported inside the tasks)."""
    cfg = train_settings()
    launcher = str(cfg.get("launcher") or "local")
    retries = int(cfg.get("retries", 3))
    out_assets = [asset(t) for t in outlets]
    dag = DAG(
        dag_id=stage, schedule=schedule, catchup=False, max_active_runs=1, doc_md=doc_md,
        tags=["videokr", *tags, f"launcher:{launcher}"],
        params=form_friendly({"subjects": subjects_param(), **(params or {})}),
        default_args=DEFAULT_ARGS | {"execution_timeout": timedelta(hours=1), "on_failure_callback": record_failure},
        deadline=deadline_alert(stage, deadline),
    )
    with dag:
        subjects = scope_check(stage)

        with TaskGroup("work"):
            @task(task_id="prepare")
            def prepare_task(subjects: list[str], **context) -> dict:
                import train.stage as st
                params = {k: v for k, v in context["params"].items() if k != "subjects"}
                return getattr(st, prepare)(subjects=subjects or None, params=params)
            prepared = prepare_task(subjects)

            previous = prepared
            for step in steps:
                @task(task_id=f"{step}_specs", trigger_rule="none_failed")
                def step_specs(prepared: dict, step: str = step) -> list[dict]:
                    return prepared["launches"][step]    # a mapped task can only expand a task's return value
                launched = launch_tasks(step, step_specs(prepared), launcher, retries, timeout)
                previous >> launched
                previous = launched

            @task(task_id="finish", trigger_rule="none_failed")
            def finish_task(prepared: dict) -> dict:
                import train.stage as st
                result = getattr(st, finish)(None, prepared)
                return {"run_id": result["run_id"], "rows": result.get("rows", {}),
                        "changed": bool(result.get("changed")), "launched": result.get("launched")
                        or result.get("models") or []}
            result = finish_task(prepared)
            previous >> result

            @task(task_id="publish", outlets=out_assets)
            def publish(subjects: list[str], result: dict, **context) -> dict:
                if not result.get("changed", True):    # nothing trained/evaluated: no asset event, downstream sleeps
                    from airflow.sdk.exceptions import AirflowSkipException
                    raise AirflowSkipException(f"{stage}: nothing changed; no asset event")
                for a in out_assets:
                    context["outlet_events"][a].extra = {"subjects": subjects, "run_ids": [result["run_id"]]}
                return {"subjects": subjects, "runs": [result]}
            publish(subjects, result)
    return dag
