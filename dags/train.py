"""train: SFT then GRPO on the exported splits, on GPU workers through a launcher."""
from datetime import timedelta

from airflow.sdk import Param

from dags.common import asset
from dags.launchers import launch_dag

dag = launch_dag(
    "train",
    steps=["sft", "grpo"],
    prepare="prepare",
    finish="finish",
    schedule=[asset("splits")],
    outlets=["train_runs"],
    tags=["stage:5-train", "gpu"],
    timeout=timedelta(hours=72),
    deadline=timedelta(hours=96),
    params={"base": Param("", type="string", description="Base model folder; empty: the configured one (tiny "
                                                          "random model in the embedded world)"),
            "mode": Param("sft+grpo", enum=["sft+grpo", "sft", "zero-rl"])},
    doc_md="""
### train
Scheduled on `warehouse://splits`, so it retrains whenever the splits change. `work.prepare` **reads** a VideoKR
export made at the current snapshot, carves a held-out eval set from the RL split by video and plans the jobs;
`work.sft` then `work.grpo` run them with the `[train] launcher` of videokr.toml: `local` (a subprocess on the
worker), `docker` (a DockerOperator: `[train] image`, GPUs by device request, `$VIDEOKR_HOME` bind-mounted) or
`kubernetes` (a KubernetesPodOperator: `nvidia.com/gpu` limits, `[train] node_selector` / `tolerations`, the PVC
`[train] pvc` holding `$VIDEOKR_HOME`). They go to the Celery queue `gpu` and the pool `gpu`, and retry
(`[train] retries`) from their last checkpoint (every `[train] save_steps` steps). A step the mode lacks is skipped.
**Writes** `train_runs` (one row per SFT/GRPO run, with the warehouse snapshot and export manifest it used) and model
folders under `$VIDEOKR_HOME/runs/`; `work.finish` returns what was launched. Emits `warehouse://train_runs`
(schedules `evaluate`).
""",
)
