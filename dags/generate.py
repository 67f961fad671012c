"""generate: three-skill question candidates with CoT for every kept video, through the model layer.

Orchestration only; the work is jobs/generate.py (imported inside the task by dags.common.stage_dag).
"""
from __future__ import annotations

from airflow.sdk import Param

from dags.common import asset, stage_dag

dag = stage_dag(
    "generate",
    schedule=asset("window_hashes"),
    outlets=["candidates"],
    pool="llm_api",
    mapped=True,
    tags=["stage:3-qa", "generate", "llm"],
    params={"n_frames": Param(None, type=["null", "integer"], minimum=1, maximum=128,
                              description="Frames per video sent to the generator (empty: [llm.frames] count)")},
    doc_md="""
### generate
For every screened, kept video (`screening.decision = 'keep'`, with its knowledge point) of the subjects in
scope, one `generate_qa` call (role `generator`, pool `llm_api`): the versioned prompt `jobs/prompts/generate_qa.v*.md`
with the expert seed examples of `jobs/seeds/`, the knowledge point, the video frames, and the title, description
and captions quoted as untrusted data. Items are validated (multiple choice: 4-10 options lettered A-J, one
correct letter; open-ended: short reference answer; a non-empty CoT); bad items and failed calls go to
`quarantine` and the run goes on.

Writes `candidates` with lineage (model, prompt_version, call_id), mapped over subject partitions; a rerun pays
nothing (reply cache) and changes nothing. Scheduled by `warehouse://window_hashes`; emits `warehouse://candidates`.
Counts: `SELECT subject_id, skill, problem_type, count(*) FROM candidates GROUP BY ALL`.
""",
)
