"""Airflow DAG decontaminate: drop corpus videos that overlap evaluation benchmarks."""
from dags.common import asset, stage_dag

dag = stage_dag(
    "decontaminate",
    schedule=[asset("verified_qa")],
    outlets=["contamination"],
    tags=["stage:4-verify", "decontamination"],
    doc_md="""
### decontaminate
**Reads** benchmark manifests (MMVU, VideoMMMU, and any configured JSON/JSONL) into `benchmark_items`, benchmark
video window hashes into `benchmark_windows`, and the corpus `videos` and `window_hashes`. **Writes**
`contamination`: YouTube-ID matches, and near-duplicates found by a banded Hamming join on 20-second window pHashes
plus in-order run matching tolerant of a time offset. Every candidate of a contaminated video is excluded from
`splits` and exports. Scheduled by `warehouse://verified_qa`; emits `warehouse://contamination`.
""",
)
