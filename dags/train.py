"""train: SFT then GRPO on the exported splits, on GPU workers through a launcher."""
from datetime import timedelta

from airflow.sdk import Param

from dags.common import asset, stage_dag

dag = stage_dag(
    "train",
    schedule=[asset("splits")],
    outlets=["train_runs"],
    tags=["stage:5-train", "gpu"],
    pool="gpu",
    timeout=timedelta(hours=72),
    deadline=timedelta(hours=96),
    params={"base": Param("", type="string", description="Base model folder; empty: the configured one (tiny "
                                                          "random model in the embedded world)"),
            "mode": Param("sft+grpo", enum=["sft+grpo", "sft", "zero-rl"]),
            "launcher": Param("local", enum=["local", "docker", "kubernetes"])},
    doc_md="""
### train
Scheduled on `warehouse://splits`, so it retrains whenever the splits change. **Reads** a VideoKR export made at
the current snapshot; carves a held-out eval set from the RL split by video. **Writes** `train_runs` (one row per
SFT/GRPO run, with the warehouse snapshot and export manifest it used) and model folders under
`$VIDEOKR_HOME/runs/`. Pool `gpu` caps concurrent training. Emits `warehouse://train_runs` (schedules `evaluate`).
""",
)
