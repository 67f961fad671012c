"""The shape every stage DAG shares, so DAG files hold only what differs (schedule, assets, pool, docs).

    scope.check_subjects  ->  work.run_stage (one task, or mapped over subjects)  ->  work.publish (asset events)

- params: `subjects` (empty = all; unknown ids fail the run in scope.check_subjects before any work) plus extras;
- retries with exponential backoff, execution timeouts, a failure callback that records the error in `runs`,
  a deadline alert on long stages; pools cap external APIs and GPUs;
- the job is imported inside the task, so DAG parsing stays cheap. Orchestration only: no logic here.
"""
from __future__ import annotations

import os
from datetime import timedelta

from airflow.sdk import DAG, Asset, Param, TaskGroup, task
from airflow.sdk.definitions.callback import AsyncCallback
from airflow.sdk.definitions.deadline import DeadlineAlert, DeadlineReference

DEFAULT_ARGS = {
    "owner": "videokr",
    "retries": 3,
    "retry_delay": timedelta(seconds=20),
    "retry_exponential_backoff": 2.0,
    "max_retry_delay": timedelta(minutes=30),
}


def asset(table: str) -> Asset:
    """The asset of a warehouse table: warehouse://<table>."""
    return Asset(f"warehouse://{table}")


def subjects_param() -> Param:
    return Param([], type="array", items={"type": "string"},
                 description="Subject ids (slugs, e.g. physics) to (re)process; empty means all subjects.")


def form_friendly(params: dict) -> dict:
    """Params whose documented default is "empty" ("" = the configured value) made nullable: the UI's trigger form
    treats an empty field of a non-null type as missing and keeps the Trigger button disabled until it is typed.
    Such a param's default becomes None (jobs read None and "" alike: the configured value)."""
    out = {}
    for name, p in params.items():
        schema = dict(getattr(p, "schema", {}) or {})
        kind = schema.get("type")
        if isinstance(p, Param) and p.value == "" and kind and "null" not in (kind if isinstance(kind, list) else [kind]):
            schema["type"] = ["null", *(kind if isinstance(kind, list) else [kind])]
            p = Param(None, **schema)
        out[name] = p
    return out


def triggering_subjects(context) -> list[str]:
    """Subjects carried by the asset events that triggered this run (the backfill scope), else []."""
    subjects: set[str] = set()
    for events in (context.get("triggering_asset_events") or {}).values():
        for ev in events:
            subjects.update((ev.extra or {}).get("subjects") or [])
    return sorted(subjects)


def record_failure(context) -> None:
    """Task failure callback: put the error in `runs`, also for failures outside the job (timeouts, kills)."""
    from warehouse.runs import record_task_failure
    ti = context["ti"]
    record_task_failure(stage=ti.dag_id, task_id=ti.task_id, airflow_run_id=context["run_id"],
                        try_number=ti.try_number, error=repr(context.get("exception")))


def export_connections(connections: dict[str, tuple[str, str | None]]) -> None:
    """Airflow connections -> the environment variables the jobs read: {conn_id: (secret_var, host_var)}.
    Never logged; a variable already set wins; a missing connection is skipped (the job names what it needs)."""
    import os

    from airflow.sdk import Connection
    for conn_id, (secret_var, host_var) in connections.items():
        if os.environ.get(secret_var):
            continue
        try:
            conn = Connection.get(conn_id)
        except Exception:  # noqa: BLE001 - not configured
            continue
        if conn.password:
            os.environ[secret_var] = conn.password
        if host_var and conn.host and not os.environ.get(host_var):
            os.environ[host_var] = conn.host if "://" in conn.host else f"https://{conn.host}"


async def deadline_missed(**kwargs) -> None:
    """Deadline alert (runs in the triggerer): log loudly; operators see it in the UI's deadline list."""
    import logging
    logging.getLogger("videokr.deadline").error("videokr stage missed its deadline: %s", kwargs)


def embedded() -> bool:
    """Parsed for `videokr run` (dag.test() in one process, tasks one after another; VIDEOKR_DAG_TEST=1). There a
    task per partition or phase buys no parallelism and costs a job start each (a warehouse connection, a `runs`
    row, the task machinery): mapped stages get one partition of every subject and phased stages one task that runs
    every phase in order (the job's phase "all"), writing the same rows. Deployments keep the split shape."""
    return bool(os.environ.get("VIDEOKR_DAG_TEST"))


def deadline_alert(stage: str, deadline: timedelta | None):
    """The stage's deadline alert, or None. Airflow 3.3's dag.test() cannot evaluate deadline alerts
    (DagRun.update_state looks up the serialized alert dicts as ids), so `videokr run` (in-process) parses DAGs
    with VIDEOKR_DAG_TEST=1 and no deadlines."""
    if not deadline or embedded():
        return None
    return DeadlineAlert(reference=DeadlineReference.DAGRUN_QUEUED_AT, interval=deadline,
                         callback=AsyncCallback(deadline_missed, kwargs={"stage": stage}))


def scope_check(stage: str):
    """The `scope.check_subjects` task (inside an open DAG): the subjects asked for, or the triggering assets',
    checked against the knowledge bank before any work. Returns its XComArg."""
    with TaskGroup("scope"):
        @task(task_id="check_subjects", retries=0)
        def check_subjects(**context) -> list[str]:
            from jobs.scope import check_subjects as check
            wanted = list(context["params"].get("subjects") or []) or triggering_subjects(context)
            return check(stage, wanted)
        return check_subjects()


def stage_dag(stage: str, *, schedule, outlets: list[str], doc_md: str, tags: list[str], pool: str | None = None,
              params: dict | None = None, mapped: bool = False, timeout: timedelta = timedelta(hours=6),
              deadline: timedelta | None = None, phases: list[tuple[str, str | None]] | None = None,
              connections: dict[str, tuple[str, str | None]] | None = None) -> DAG:
    """Build the DAG of `stage` (its id is the stage name).

    mapped: one work task per partition (dynamic task mapping); phases: [(phase, pool)] run in order as separate
    tasks (the job gets params["phase"]); connections: Airflow connections exported to the job's environment."""
    out_assets = [asset(t) for t in outlets]
    dag = DAG(
        dag_id=stage, schedule=schedule, catchup=False, max_active_runs=1, doc_md=doc_md,
        tags=["videokr", *tags], params=form_friendly({"subjects": subjects_param(), **(params or {})}),
        default_args=DEFAULT_ARGS | {"execution_timeout": timeout, "on_failure_callback": record_failure},
        deadline=deadline_alert(stage, deadline),
    )
    with dag:
        subjects = scope_check(stage)

        with TaskGroup("work"):
            extra = dict(pool=pool) if pool else {}

            def _run(subjects: list[str], context, phase: str | None = None) -> dict:
                from jobs.stages import job
                if connections:
                    export_connections(connections)
                params = {k: v for k, v in context["params"].items() if k != "subjects"}
                params["airflow_run_id"] = context["run_id"]
                if phase:
                    params["phase"] = phase
                summary = job(stage).run(subjects=subjects or None, params=params)
                rows = summary.get("rows", {})
                changed = summary.get("changed", any(v for v in rows.values() if isinstance(v, (int, float))))
                return {"run_id": summary.get("run_id"), "rows": rows, "changed": bool(changed)}

            @task(task_id="run_stage", **extra)
            def run_stage(subjects: list[str], **context) -> dict:
                return _run(subjects, context)

            @task(task_id="partitions")
            def partitions(subjects: list[str]) -> list[list[str]]:
                from jobs.scope import partitions as parts
                found = parts(stage, subjects)
                if embedded() and len(found) > 1:     # one partition of every subject: the same rows
                    return [[s for part in found for s in part]]
                return found

            @task(task_id="publish", outlets=out_assets)
            def publish(subjects: list[str], results, **context) -> dict:
                runs = [r for r in ([results] if isinstance(results, dict) else list(results)) if r]
                if runs and not any(r.get("changed", True) for r in runs):
                    # the stage changed nothing (its own `changed`, or no row written): skipping emits no asset
                    # event, so the chain downstream stays asleep
                    from airflow.sdk.exceptions import AirflowSkipException
                    raise AirflowSkipException(f"{stage}: no rows changed; no asset event")
                for a in out_assets:
                    context["outlet_events"][a].extra = {"subjects": subjects,
                                                         "run_ids": [r["run_id"] for r in runs]}
                return {"subjects": subjects, "runs": runs}

            if phases and not embedded():
                results, previous = [], None
                for name, phase_pool in phases:
                    @task(task_id=f"phase_{name}", **({"pool": phase_pool} if phase_pool else {}))
                    def run_phase(subjects: list[str], phase: str = name, **context) -> dict:
                        return _run(subjects, context, phase)
                    out = run_phase(subjects)
                    if previous is not None:
                        previous >> out
                    results.append(out)
                    previous = out
            elif mapped:
                results = run_stage.expand(subjects=partitions(subjects))
            else:
                results = run_stage(subjects)
            publish(subjects, results)
    return dag
