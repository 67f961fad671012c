"""export: versioned exports of the splits for the training tools people use."""
from airflow.sdk import Param

from dags.common import asset, stage_dag

dag = stage_dag(
    "export",
    schedule=[asset("splits")],
    outlets=["exports"],
    tags=["stage:5-train", "export"],
    params={"formats": Param(["videokr", "llamafactory", "verl", "trl"], type="array",
                             description="Export formats to write")},
    doc_md="""
### export
**Reads** `verified_qa`, `splits`, `downloads` at one warehouse snapshot. **Writes** one folder per format under
`$VIDEOKR_HOME/exports/` (VideoKR JSONL, LLaMA-Factory ShareGPT, verl parquet, TRL conversational) with a manifest
(row counts, sha256 per file, snapshot id, split seed) and a row in `exports`. The same snapshot gives
byte-identical files. Emits `warehouse://exports`.
""",
)
