"""knowledge_bank: load the knowledge-bank file into the warehouse."""
from __future__ import annotations

from airflow.sdk import Param, dag, task

from dags.common import DEFAULT_ARGS, asset, run_stage, subjects_param

OUTLETS = [asset("knowledge_points")]


@dag(
    dag_id="knowledge_bank",
    schedule=None,
    catchup=False,
    default_args=DEFAULT_ARGS,
    tags=["videokr", "stage:1-collection", "knowledge-bank"],
    params={"subjects": subjects_param(),
            "source": Param("", type="string", description="Bank file (YAML/JSON); empty: the configured one")},
    doc_md="""
### knowledge_bank
Reads a knowledge-bank file (discipline > subject > course > lecture > knowledge point) and writes
`disciplines, subjects, courses, lectures, knowledge_points`. With `subjects`, only those subjects' rows are
rewritten. Emits `warehouse://knowledge_points`, which schedules `collect`.
""",
)
def knowledge_bank():
    @task(outlets=OUTLETS)
    def load_bank(**context) -> dict:
        return run_stage("knowledge_bank", OUTLETS, context)

    load_bank()


knowledge_bank()
