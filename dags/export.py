"""export: versioned exports of the splits, in the releases' formats, for the training tools people use."""
from airflow.sdk import Param

from dags.common import asset, stage_dag

dag = stage_dag(
    "export",
    schedule=[asset("splits")],
    outlets=["exports"],
    tags=["stage:5-train", "export"],
    params={"formats": Param(["videokr", "llamafactory", "verl", "trl"], type="array",
                             items={"type": "string", "enum": ["videokr", "llamafactory", "verl", "trl"]},
                             description="Export formats to write"),
            "videos": Param("link", enum=["link", "copy", "absolute"],
                            description="link: symlinks under <folder>/videos; copy: real files there; "
                                        "absolute: absolute paths into the media store, no videos in the folder"),
            "snapshot": Param(None, type=["null", "integer"], minimum=0,
                              description="Warehouse snapshot to read; empty: the newest that changed the inputs")},
    doc_md="""
### export
**Reads** `verified_qa`, `splits`, `downloads`, `contamination`, `model_frames` at one warehouse snapshot. **Writes**
one folder per format under `$VIDEOKR_HOME/exports/`, named `<format>-snap<N>-seed<S>-<scope>` (VideoKR/Video-R1
JSONL, LLaMA-Factory ShareGPT with dataset_info.json and the release's SFT YAML, verl parquet, TRL conversational),
each holding both splits, its videos under `videos/` (paths in the files are relative to the folder) and a manifest
(row counts, sha256 per file, snapshot id, split seed), plus a row in `exports`. A missing video file is
quarantined and its examples left out. The same snapshot gives byte-identical files. Emits `warehouse://exports`.
""",
)
