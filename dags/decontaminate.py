"""Airflow DAG decontaminate: drop corpus videos that overlap evaluation benchmarks.

`benchmarks.fetch` (jobs/dedup/fetch.py) downloads the registered benchmarks' videos before the stage's work hashes
them; it is a no-op in the offline sample world."""
from airflow.sdk import TaskGroup, task

from dags.common import asset, stage_dag

dag = stage_dag(
    "decontaminate",
    schedule=[asset("verified_qa")],
    outlets=["contamination"],
    tags=["stage:4-verify", "decontamination"],
    doc_md="""
### decontaminate
**Fetches** the videos of every registered benchmark through yt-dlp (`benchmarks.fetch`, the same job as
`videokr benchmarks fetch`: download archive, retries, rate limit; an unavailable video is quarantined with its
reason; skipped in the offline sample world) into `benchmark_videos` and `$VIDEOKR_HOME/benchmarks/`.
**Reads** benchmark manifests (MMVU, VideoMMMU, and any configured JSON/JSONL) into `benchmark_items`, benchmark
video window hashes into `benchmark_windows`, and the corpus `videos` and `window_hashes`. **Writes**
`contamination`: YouTube-ID matches, and near-duplicates found by a banded Hamming join on 20-second window pHashes
plus in-order run matching tolerant of a time offset. Every candidate of a contaminated video is excluded from
`splits` and exports. Scheduled by `warehouse://verified_qa`; emits `warehouse://contamination`.
Coverage per benchmark: the `v_benchmark_coverage` view.
""",
)

with dag:
    with TaskGroup("benchmarks"):
        @task(task_id="fetch")
        def fetch(**context) -> dict:
            """Benchmark videos not on disk yet: downloaded before matching, so their windows get hashed."""
            from jobs.dedup.fetch import run
            out = run(params={})
            return {k: out.get(k) for k in ("run_id", "skipped", "videos", "fetched", "on_disk", "missing", "failed")}

        fetched = fetch()
    fetched >> dag.get_task("work.run_stage")
