"""Airflow DAG maintenance: daily warehouse upkeep (not part of the stage chain)."""
from datetime import timedelta

from airflow.sdk import Param

from dags.common import stage_dag

dag = stage_dag(
    "maintenance",
    schedule="@daily",
    outlets=[],
    tags=["upkeep", "maintenance"],
    timeout=timedelta(hours=2),
    params={
        "older_than_hours": Param(168, type="number", minimum=0,
                                  description="Expire snapshots older than this (hours), except referenced ones."),
        "dry_run": Param(False, type="boolean", description="Report what would be merged, expired and deleted."),
    },
    doc_md="""
### maintenance
Daily upkeep of the DuckLake warehouse (`warehouse/upkeep.py`, also `videokr maintain`): flushes inlined rows to
Parquet, **expires snapshots** older than `older_than_hours` (default a week) **except** every snapshot a
`train_runs`, `exports` or `eval_results` row refers to, each table's newest change and the current one (so
`AT (VERSION => n)` to what a model was trained, exported or evaluated on keeps working), **merges small files**,
then deletes files no snapshot needs, orphaned Parquet and leftover `*.part` downloads (after a one-hour grace, so
running readers and writers keep theirs). Writes only its `runs` row; emits no assets. `subjects` is ignored.
""",
)
