"""frames: probe files and hash 20-second windows of the kept videos, mapped over subject partitions."""
from airflow.sdk import Param

from dags.common import asset, stage_dag

dag = stage_dag(
    "frames",
    schedule=[asset("screening")],
    outlets=["window_hashes", "video_files"],
    tags=["stage:2-screening", "frames", "decode"],
    mapped=True,
    params={"workers": Param(0, type="integer", minimum=0,
                             description="Decode processes per task; 0 means one per CPU core")},
    doc_md="""
### frames
**Reads** kept videos (`screening.decision = 'keep'` joined with `downloads.path`). **Writes** `video_files`
(bytes, sha256, codec, size, fps, duration, frames) and `window_hashes` (per-bit majority of imagehash-identical
pHashes at 1 Hz per 20-second window). Mapped over subject partitions; each replaces exactly its videos' rows.
Corrupt, truncated, zero-length and non-video files get an `error` row and a `quarantine` entry; the run goes on.
Scheduled by `warehouse://screening`; emits `warehouse://window_hashes` and `warehouse://video_files`.
""",
)
