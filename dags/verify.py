"""verify: self-consistency, video-dependency and CoT-validation checks; verified_qa = candidates passing all.

Orchestration only; the work is jobs/verify.py (imported inside the task by dags.common.stage_dag).
"""
from __future__ import annotations

from airflow.sdk import Param

from dags.common import asset, stage_dag

dag = stage_dag(
    "verify",
    schedule=asset("candidates"),
    outlets=["verified_qa", "checks"],
    pool="llm_api",
    mapped=True,
    tags=["stage:3-qa", "verify", "llm"],
    params={
        "k": Param(None, type=["null", "integer"], minimum=1, description="solver samples (default [verify] k or 3)"),
        "threshold": Param(None, type=["null", "number"], exclusiveMinimum=0, maximum=1,
                           description="share of the k samples that must agree (default 0.6)"),
        "n": Param(None, type=["null", "integer"], minimum=1, description="single-frame blind tries (default 2)"),
        "m": Param(None, type=["null", "integer"], minimum=1,
                   description="blind tries answering a multiple-choice item correctly that drop it (default 2)"),
        "frame_choice": Param(None, type=["null", "string"],
                              description="order of the blind tries' frames (default evidence,middle,first,random)"),
        "early_exit": Param(None, type=["null", "boolean"],
                            description="cheapest check first, stop at the first failure (default true)"),
    },
    doc_md="""
### verify
Three checks per candidate of the subjects in scope (pool `llm_api`), one `checks` row each, in this order:

- **video_dependency** (role `blind_solver`): n tries, each with the question, the page text and ONE frame
  (evidence, middle, first, random); dropped when m tries answer a multiple-choice item correctly (one, open-ended).
- **cot_validation** (role `cot_validator`): every CoT step grounded in the video or standard knowledge.
- **self_consistency** (role `solver`): k samples with the video; keep when >= threshold of them agree.

Checks run cheapest first and stop at the first failure (`early_exit`); the three roles must be different models
from the generator (and the validator from the solver), checked before any work.

`verified_qa` holds the candidates passing all three. A check whose calls failed is written with passed = NULL
and retried by the next run. Why candidates were dropped: `SELECT check_name, outcome, count(*) FROM
v_rejection_reasons GROUP BY ALL`. Scheduled by `warehouse://candidates`; emits `warehouse://verified_qa`.
""",
)
