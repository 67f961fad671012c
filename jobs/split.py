"""Split stage: each video -> `sft` or `rl`, so that all examples of a video land on one side.

The assignment is a pure function of (video_id, seed): sha256("<seed>:<video_id>") read as a number in [0, 1)
(the bucket), `sft` when bucket < ratio. Backfilling subjects therefore never moves an existing video, and
re-running is a no-op. Contaminated videos (any row in `contamination`) get no split, so none of their
candidates reaches an export. Default ratio 0.64: the paper's 201K SFT / 315K examples.

Params: seed (default settings.seed), ratio (default 0.64).
"""
from __future__ import annotations

import hashlib
import logging

import polars as pl

from videokr.settings import Settings
from warehouse import Warehouse, stage_run

log = logging.getLogger("videokr.split")

DEFAULT_RATIO = 0.64
SPLITS = ("sft", "rl")


def bucket(video_id: str, seed: int) -> float:
    """Position of `video_id` in [0, 1) for `seed` (first 8 bytes of sha256, big-endian / 2**64)."""
    digest = hashlib.sha256(f"{int(seed)}:{video_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2.0**64


def assign(video_id: str, seed: int, ratio: float = DEFAULT_RATIO) -> str:
    """'sft' or 'rl' for a video; pure and stable."""
    if not 0.0 <= ratio <= 1.0:
        raise ValueError(f"split ratio must be in [0, 1], got {ratio}")
    return "sft" if bucket(video_id, seed) < ratio else "rl"


_VIDEOS_SQL = """
SELECT q.video_id, any_value(q.subject_id) AS subject_id, count(*)::INTEGER AS examples
FROM verified_qa q
WHERE ($all_subjects OR q.subject_id IN (SELECT unnest($subjects::VARCHAR[])))
  AND q.video_id NOT IN (SELECT video_id FROM contamination WHERE video_id IS NOT NULL)
GROUP BY q.video_id
ORDER BY q.video_id
"""


SPLITS_SCHEMA = {"video_id": pl.Utf8, "subject_id": pl.Utf8, "split": pl.Utf8, "seed": pl.Int64, "ratio": pl.Float64,
                 "bucket": pl.Float64, "examples": pl.Int32}


def split_rows(videos: list[dict], seed: int, ratio: float) -> list[dict]:
    return [{"video_id": v["video_id"], "subject_id": v["subject_id"], "split": assign(v["video_id"], seed, ratio),
             "seed": int(seed), "ratio": float(ratio), "bucket": bucket(v["video_id"], seed),
             "examples": int(v["examples"])} for v in videos]


def run(settings: Settings | None = None, subjects: list[str] | None = None, params: dict | None = None) -> dict:
    """Write `splits` for the verified, uncontaminated videos of `subjects` (empty: all)."""
    settings = settings or Settings.load()
    params = settings.section("split") | dict(params or {})
    seed = int(params.get("seed", settings.seed))
    ratio = float(params.get("ratio", DEFAULT_RATIO))
    assign("x", seed, ratio)  # validates ratio before a run record is written
    subjects = sorted(subjects or [])
    with Warehouse(settings) as wh, stage_run(wh, "split", {"subjects": subjects},
                                              {"seed": seed, "ratio": ratio}) as r:
        if "verified_qa" not in wh.tables():
            raise RuntimeError("split: table verified_qa is not declared (sql/schema/verified_qa.sql); run verify first")
        videos = wh.query(_VIDEOS_SQL, {"subjects": subjects, "all_subjects": not subjects}).to_dicts()
        rows = split_rows(videos, seed, ratio)
        r.write("splits", pl.DataFrame(rows, schema=SPLITS_SCHEMA), scope={"subject_id": subjects} if subjects else {})
        counts = {s: {"videos": sum(1 for x in rows if x["split"] == s),
                      "examples": sum(x["examples"] for x in rows if x["split"] == s)} for s in SPLITS}
        log.info("split: %s (seed %d, ratio %.2f)", counts, seed, ratio)
        return {"run_id": r.run_id, "stage": "split", "changed": r.changed, "rows": dict(r.rows), "seed": seed, "ratio": ratio,
                "splits": counts}
