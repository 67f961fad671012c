"""Shared DAG defaults: retries with exponential backoff, asset names, the subjects param, and the task body
every stage uses (import the job inside the task, run it, stamp the asset event). Orchestration only."""
from __future__ import annotations

from datetime import timedelta

from airflow.sdk import Asset, Param

DEFAULT_ARGS = {
    "owner": "videokr",
    "retries": 3,
    "retry_delay": timedelta(seconds=30),
    "retry_exponential_backoff": 2.0,
    "max_retry_delay": timedelta(minutes=30),
    "execution_timeout": timedelta(hours=6),
}


def asset(table: str) -> Asset:
    """The asset of a warehouse table: warehouse://<table>."""
    return Asset(f"warehouse://{table}")


def subjects_param() -> Param:
    return Param([], type="array", items={"type": "string"},
                 description="Subject ids (slugs) to (re)process; empty means all subjects.")


def triggering_subjects(context) -> list[str]:
    """Subjects carried by the asset events that triggered this run (backfill scope), else []."""
    subjects: set[str] = set()
    for events in (context.get("triggering_asset_events") or {}).values():
        for ev in events:
            subjects.update((ev.extra or {}).get("subjects") or [])
    return sorted(subjects)


def run_stage(stage: str, outlets: list[Asset], context, extra_params: dict | None = None) -> dict:
    """Run job `stage` for the DAG run's subjects and put the scope on the outlet asset events."""
    from jobs.stages import job  # imported here so DAG parsing stays cheap

    params = context["params"]
    subjects = list(params.get("subjects") or []) or triggering_subjects(context)
    job_params = {k: v for k, v in params.items() if k != "subjects"} | (extra_params or {})
    job_params["airflow_run_id"] = context["run_id"]
    summary = job(stage).run(subjects=subjects or None, params=job_params)
    for outlet in outlets:
        context["outlet_events"][outlet].extra = {"subjects": subjects, "run_id": summary.get("run_id")}
    return summary
