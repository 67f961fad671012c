"""Airflow DAG split: assign each clean video to SFT or RL, stably."""
from dags.common import asset, stage_dag

dag = stage_dag(
    "split",
    schedule=[asset("contamination")],
    outlets=["splits"],
    tags=["stage:4-verify", "split"],
    doc_md="""
### split
**Reads** `verified_qa`, `videos` and `contamination`. **Writes** `splits`: each clean video goes to `sft` or `rl`
by a hash of (video id, seed) with the target SFT ratio (default 0.64), so all of a video's examples land on one
side and backfilling subjects never moves an existing video. Emits `warehouse://splits` (schedules `export` and
`train`).
""",
)
