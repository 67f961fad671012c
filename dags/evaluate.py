"""Airflow DAG evaluate: accuracy of the base and trained models across frame budgets."""
from datetime import timedelta

from dags.common import asset
from dags.launchers import launch_dag

dag = launch_dag(
    "evaluate",
    steps=["evaluate"],
    prepare="prepare_evaluate",
    finish="finish_evaluate",
    schedule=[asset("train_runs")],
    outlets=["eval_results"],
    tags=["stage:5-train", "gpu", "eval"],
    timeout=timedelta(hours=24),
    doc_md="""
### evaluate
**Reads** the last train run's models and its held-out set (plus benchmark-format files from `[train] benchmarks`).
`work.evaluate` runs one evaluation per model whose files, data or options changed (mapped; none: skipped) with the
`[train] launcher`, on the `gpu` queue and pool; the `local` launcher evaluates them in one process (one import of
torch). **Writes** `eval_results`: accuracy by question type, subject and
dataset for each model, checkpoint and frame budget, with the warehouse snapshot.
""",
)
