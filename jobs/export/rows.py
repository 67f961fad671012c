"""Read the exportable examples at one warehouse snapshot: verified_qa + splits + downloads.path, minus contamination.

Rows come sorted by (split, problem_id), so the same snapshot always yields the same rows in the same order. They are
streamed one split at a time in record batches (a few thousand rows as dicts), never all at once: at the paper's
scale (315K examples, ~6.4 KB each) a full read is gigabytes. Counts and seeds come from SQL, not from the rows.
"""
from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator

from jobs.media.model_frames import MAX_FPS, MAX_FRAMES

_EXAMPLES_SQL = """
SELECT q.candidate_id AS problem_id, q.video_id, q.subject_id, q.kp_id, q.skill, q.problem_type, q.question,
       q.options, q.answer, q.think, s.split, s.seed, d.path AS video_path,
       mf.budget_frames AS frame_budget, mf.timestamps AS frame_timestamps
FROM verified_qa q AT (VERSION => {v})
JOIN splits s AT (VERSION => {v}) ON s.video_id = q.video_id
LEFT JOIN downloads d AT (VERSION => {v}) ON d.video_id = q.video_id
LEFT JOIN model_frames mf AT (VERSION => {v})
       ON mf.video_id = q.video_id AND mf.budget_frames = $frame_budget AND mf.max_fps = $max_fps
WHERE ($all_subjects OR q.subject_id IN (SELECT unnest($subjects::VARCHAR[])))
  AND q.video_id NOT IN (SELECT video_id FROM contamination AT (VERSION => {v}) WHERE video_id IS NOT NULL)
ORDER BY s.split, q.candidate_id
"""

# An example is exported only with a video file; the rest count as excluded (missing_video).
_HAS_VIDEO = "coalesce(video_path, '') <> ''"

# One split's exported rows, in problem_id order (the outer ORDER BY: a subquery's order is not guaranteed).
_SPLIT_SQL = "SELECT * FROM ({examples}) WHERE split = $split AND " + _HAS_VIDEO + " ORDER BY problem_id"

# Per (split, seed, has video) counts: the split sizes, the seeds and missing_video without reading the rows.
_SUMMARY_SQL = ("SELECT split, seed, " + _HAS_VIDEO + " AS has_video, count(*) AS n FROM ({examples}) "
                "GROUP BY ALL ORDER BY ALL")

_EXCLUDED_SQL = """
SELECT
  count(*) FILTER (WHERE q.video_id IN (SELECT video_id FROM contamination AT (VERSION => {v}) WHERE video_id IS NOT NULL))
      AS contaminated,
  count(*) FILTER (WHERE q.video_id NOT IN (SELECT video_id FROM splits AT (VERSION => {v}))
                   AND q.video_id NOT IN (SELECT video_id FROM contamination AT (VERSION => {v}) WHERE video_id IS NOT NULL))
      AS unsplit
FROM verified_qa q AT (VERSION => {v})
WHERE ($all_subjects OR q.subject_id IN (SELECT unnest($subjects::VARCHAR[])))
"""

BATCH_ROWS = 2048   # rows per record batch: bounds the export's Python memory (~6.4 KB an example: ~13 MB of text)

Batches = Callable[[str], Iterator[list[dict]]]


class ExportRows:
    """The examples of one snapshot, split by split: either a list in memory (tests, small callers) or a batch
    source over the warehouse (export). `seeds`, `count` and `excluded` never need the rows themselves."""

    def __init__(self, snapshot_id: int, examples: list[dict] | None = None, excluded: dict[str, int] | None = None,
                 *, batches: Batches | None = None, counts: dict[str, int] | None = None,
                 seeds: list[int] | None = None, batch_rows: int | None = None):
        if (examples is None) == (batches is None):
            raise ValueError("ExportRows needs either examples or batches")
        self.snapshot_id = snapshot_id
        self.examples = examples
        self.excluded = dict(excluded or {})
        self.batch_rows = int(batch_rows or BATCH_ROWS)
        self._batches = batches
        if examples is not None:
            counts = Counter(e["split"] for e in examples)
            seeds = sorted({int(e["seed"]) for e in examples if e["seed"] is not None})
        self._counts = dict(counts or {})
        self.seeds: list[int] = list(seeds or [])

    def count(self, split: str) -> int:
        return self._counts.get(split, 0)

    def batches(self, split: str) -> Iterator[list[dict]]:
        """The split's examples in problem_id order, a batch (list of dicts) at a time."""
        if self._batches is not None:
            yield from self._batches(split)
            return
        rows = [e for e in self.examples if e["split"] == split]
        for i in range(0, len(rows), self.batch_rows):
            yield rows[i:i + self.batch_rows]

    def iter_split(self, split: str) -> Iterator[dict]:
        for batch in self.batches(split):
            yield from batch

    def by_split(self, split: str) -> list[dict]:
        """The whole split as a list: for small callers only (the export streams `batches`)."""
        return list(self.iter_split(split))


INPUT_TABLES = ["verified_qa", "splits", "downloads", "contamination", "model_frames"]


def read_rows(wh, snapshot_id: int | None = None, subjects: list[str] | None = None,
              frame_budget: int = MAX_FRAMES, batch_rows: int | None = None) -> ExportRows:
    """Examples at `snapshot_id` for `subjects` (empty: all), with the frame instants the frames stage stored for
    `frame_budget` (jobs.media.model_frames), so a trainer decodes the frames the checks saw. By default the newest
    snapshot that changed an input table: the same rows as now, and the same export identity while the inputs do
    not change. The rows are read lazily, on `wh`'s connection: iterate one split at a time, with `wh` open and no
    other query on it in between."""
    v = int(wh.data_snapshot(INPUT_TABLES) if snapshot_id is None else snapshot_id)
    n = int(batch_rows or BATCH_ROWS)
    p = {"subjects": sorted(subjects or []), "all_subjects": not subjects}
    q = p | {"frame_budget": int(frame_budget), "max_fps": MAX_FPS}
    sql = _EXAMPLES_SQL.format(v=v)
    counts, seeds, missing = Counter(), set(), 0
    for r in wh.query(_SUMMARY_SQL.format(examples=sql), q).iter_rows(named=True):
        if not r["has_video"]:
            missing += r["n"]
            continue
        counts[r["split"]] += r["n"]
        if r["seed"] is not None:
            seeds.add(int(r["seed"]))
    excluded = wh.query(_EXCLUDED_SQL.format(v=v), p).to_dicts()[0]
    excluded = {k: int(x or 0) for k, x in excluded.items()} | {"missing_video": missing}

    def batches(split: str) -> Iterator[list[dict]]:
        reader = wh.con.execute(_SPLIT_SQL.format(examples=sql), q | {"split": split}).to_arrow_reader(n)
        for batch in reader:
            rows = batch.to_pylist()
            for r in rows:
                r["options"] = list(r["options"] or [])
                r["frame_timestamps"] = list(r["frame_timestamps"] or [])
            yield rows

    return ExportRows(v, excluded=excluded, batches=batches, counts=dict(counts), seeds=sorted(seeds), batch_rows=n)
