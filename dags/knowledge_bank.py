"""knowledge_bank: load the knowledge-bank file into the warehouse."""
from airflow.sdk import Param

from dags.common import stage_dag

dag = stage_dag(
    "knowledge_bank",
    schedule=None,
    outlets=["knowledge_points"],
    tags=["stage:1-collection"],
    params={"source": Param("", type="string", description="Bank file (YAML/JSON); empty: the configured one")},
    doc_md="""
### knowledge_bank
**Reads** a knowledge-bank file (discipline > subject > course > lecture > knowledge point; `source` param or
`VIDEOKR_KNOWLEDGE_BANK`). **Writes** `disciplines, subjects, courses, lectures, knowledge_points`.
With `subjects`, only those subjects' rows are rewritten. Emits `warehouse://knowledge_points` (schedules `collect`).
""",
)
