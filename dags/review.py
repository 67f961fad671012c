"""review: the paper's human-in-the-loop model choice. Pilots, experts' verdicts, the pick, a lead's approval.

Orchestration only; the work is jobs/review/pilots.py (pilots) and jobs/review/gate.py (waiting, deciding,
approving), imported inside the tasks.
"""
from __future__ import annotations

import os
from datetime import timedelta

from airflow.providers.standard.operators.hitl import ApprovalOperator
from airflow.sdk import DAG, Param, TaskGroup, task

from dags.common import DEFAULT_ARGS, record_failure, subjects_param

STEPS = ("keyword_expansion", "relevance_judging", "qa_generation", "solving", "cot_validation")
POKE_S = float(os.environ.get("VIDEOKR_REVIEW_POKE_S", "60"))

with DAG(
    dag_id="review", schedule=None, catchup=False, max_active_runs=1,
    tags=["videokr", "review", "hitl", "llm"],
    default_args=DEFAULT_ARGS | {"on_failure_callback": record_failure},
    params={"subjects": subjects_param(),
            "steps": Param([], type="array", items={"type": "string", "enum": list(STEPS)},
                           description="Steps to pilot and decide (empty: every step with candidates in [review])."),
            "sample_size": Param(None, type=["null", "integer"], minimum=1,
                                 description="Items per model and step (empty: [review] sample_size, default 100)."),
            "min_judged": Param(1.0, type="number", minimum=0.01, maximum=1.0,
                                description="Share of each step's samples that must be judged before deciding.")},
    doc_md="""
### review
For each reviewed step (keyword expansion, relevance judging, QA generation, solving, CoT validation):
1. **pilots** (pool `llm_api`): every candidate model of `[review.steps.<step>]` runs on the same stratified sample
   (discipline, skill, question type) of the step's inputs, through the stage's own request code and the model
   layer (cached, ledgered); outputs go to `review_samples`.
2. **wait_for_verdicts**: experts judge the samples on **Browse → Review** (models hidden, order shuffled); the
   sensor (reschedule mode, no slot held) waits until `min_judged` of each step's samples have a verdict.
3. **decide**: `model_selection` per step and model: error rate, 95% Wilson interval, price, the rule's pick
   (cheapest model whose upper bound is under the step's threshold).
4. **approve_<step>** (an `ApprovalOperator`, in the UI's *Required Actions* or over REST
   `PATCH .../taskInstances/approve_<step>.approve/-1/hitlDetails` with `{"chosen_options": ["Approve"]}`): the
   figures are in its body. On Approve, **record** sets `model_selection.approved` (by, at); stages then serve that
   model for the step's roles. Reject skips the record: the step stays unapproved. A step with no pick skips.
""",
) as dag:
    with TaskGroup("scope"):
        @task(task_id="check_subjects", retries=0)
        def check_subjects(**context) -> list[str]:
            from jobs.scope import check_subjects as check
            return check("review", list(context["params"].get("subjects") or []))
        subjects = check_subjects()

    @task(task_id="pilots", pool="llm_api", execution_timeout=timedelta(hours=12))
    def pilots(subjects: list[str], **context) -> dict:
        from jobs.stages import job
        p = context["params"]
        out = job("review").run(subjects=subjects or None, params={
            "steps": list(p.get("steps") or []) or None, "sample_size": p.get("sample_size"),
            "airflow_run_id": context["run_id"]})
        return {"run_id": out["run_id"], "steps": out["steps"], "items": out["items"]}

    @task.sensor(task_id="wait_for_verdicts", mode="reschedule", poke_interval=POKE_S, timeout=30 * 24 * 3600)
    def wait_for_verdicts(piloted: dict, **context):
        from airflow.sdk import PokeReturnValue

        from jobs.review.gate import ready
        from videokr.settings import Settings
        done, prog = ready(Settings.load(), piloted["steps"], float(context["params"].get("min_judged") or 1.0))
        print(f"review progress: {prog}")
        return PokeReturnValue(is_done=done, xcom_value=prog)

    @task(task_id="decide")
    def decide(piloted: dict, progress: dict, **context) -> dict:
        from jobs.review.gate import decide as run_decide
        from videokr.settings import Settings
        return run_decide(Settings.load(), piloted["steps"], {"airflow_run_id": context["run_id"]})

    piloted = pilots(subjects)
    picks = decide(piloted, wait_for_verdicts(piloted))

    for step in STEPS:
        with TaskGroup(f"approve_{step}"):
            @task.short_circuit(task_id="has_pick")
            def has_pick(picks: dict, step: str = step) -> bool:
                return step in (picks or {})

            approve = ApprovalOperator(
                task_id="approve", response_timeout=timedelta(days=30),
                subject=f"videokr review: approve the model for {step}?",
                body="{{ (ti.xcom_pull(task_ids='decide') or {}).get('%s', {}).get('body', 'no pick') }}" % step)

            @task(task_id="record")
            def record(picks: dict, step: str = step, **context) -> dict:
                from jobs.review.gate import approve as write_approval
                from videokr.settings import Settings
                answer = context["ti"].xcom_pull(task_ids=f"approve_{step}.approve") or {}
                who = answer.get("responded_by_user") or {}
                user = who.get("name") or who.get("id") or "unknown"
                row = write_approval(Settings.load(), step, picks[step]["model"], user)
                return {"step": step, "model": row["model"], "approved_by": user}

            has_pick(picks) >> approve >> record(picks)
