"""Airflow DAG evaluate: accuracy of the base and trained models across frame budgets."""
from datetime import timedelta

from dags.common import asset, stage_dag

dag = stage_dag(
    "evaluate",
    schedule=[asset("train_runs")],
    outlets=["eval_results"],
    tags=["stage:5-train", "gpu", "eval"],
    pool="gpu",
    timeout=timedelta(hours=24),
    doc_md="""
### evaluate
**Reads** the last train run's models and its held-out set (plus benchmark-format files from `[train] benchmarks`).
**Writes** `eval_results`: accuracy by question type, subject and dataset for each model, checkpoint and frame
budget, with the warehouse snapshot. Pool `gpu`.
""",
)
