"""frames: window hashes and video file probes for the kept videos, mapped over subject partitions."""
from __future__ import annotations

from airflow.sdk import Param, dag, task

from dags.common import DEFAULT_ARGS, asset, subjects_param, triggering_subjects

INLET = asset("screening")
OUTLETS = [asset("window_hashes"), asset("video_files")]


@dag(
    dag_id="frames",
    schedule=[INLET],
    catchup=False,
    default_args=DEFAULT_ARGS,
    max_active_tasks=4,
    tags=["videokr", "stage:2-screening", "frames", "decode"],
    params={"subjects": subjects_param(),
            "workers": Param(0, type="integer", minimum=0,
                             description="Decode processes per task; 0 means one per CPU core")},
    doc_md="""
### frames
For every kept video (`screening.decision = 'keep'` joined with `downloads.path`): probe the file (bytes, sha256,
codec, size, fps, duration, frames) into `video_files` and hash each 20-second window (per-bit majority of
imagehash-identical pHashes at 1 Hz) into `window_hashes`. Work is mapped over subject partitions; each partition
replaces exactly its videos' rows. Corrupt, truncated, zero-length and non-video files get an `error` row and a
`quarantine` entry; the run goes on. Scheduled by `warehouse://screening`; emits `warehouse://window_hashes` and
`warehouse://video_files` once all partitions are done (they schedule `decontaminate`).
""",
)
def frames():
    @task
    def list_partitions(**context) -> list[list[str]]:
        from jobs.frames import partitions  # imported here so DAG parsing stays cheap

        subjects = list(context["params"].get("subjects") or []) or triggering_subjects(context)
        return partitions(subjects=subjects or None)

    @task(map_index_template="{{ task.op_kwargs['subjects'] | join(',') }}")
    def hash_partition(subjects: list[str], **context) -> dict:
        from jobs.frames import run  # imported here so DAG parsing stays cheap

        params = {"workers": context["params"].get("workers") or None, "airflow_run_id": context["run_id"]}
        return run(subjects=subjects, params=params)

    @task(outlets=OUTLETS)
    def publish(summaries: list[dict], **context) -> dict:
        done = [s for s in summaries if s]
        subjects = list(context["params"].get("subjects") or []) or triggering_subjects(context)
        total = {"partitions": len(done), "videos": sum(s.get("videos", 0) for s in done),
                 "bad": sum(s.get("bad", 0) for s in done), "run_ids": [s.get("run_id") for s in done]}
        for outlet in OUTLETS:
            context["outlet_events"][outlet].extra = {"subjects": subjects, "run_ids": total["run_ids"]}
        return total

    publish(hash_partition.expand(subjects=list_partitions()))


frames()
