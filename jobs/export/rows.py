"""Read the exportable examples at one warehouse snapshot: verified_qa + splits + downloads.path, minus contamination.

Rows come sorted by (split, problem_id), so the same snapshot always yields the same rows in the same order. They are
streamed one split at a time in record batches (a few thousand rows as dicts), never all at once: at the paper's
scale (315K examples, ~6.4 KB each) a full read is gigabytes. Counts and seeds come from SQL, not from the rows.
"""
from __future__ import annotations

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

# Per (split, seed, video) counts: the split sizes, the seeds, missing_video and each video's file without reading
# the rows (a video's examples share one split; videos are far fewer than examples).
_SUMMARY_SQL = ("SELECT split, seed, video_id, CASE WHEN " + _HAS_VIDEO + " THEN video_path END AS video_path, "
                "count(*) AS n FROM ({examples}) GROUP BY ALL ORDER BY ALL")

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
    source over the warehouse (export). `seeds`, `count`, `videos` and `excluded` never need the rows themselves."""

    def __init__(self, snapshot_id: int, examples: list[dict] | None = None, excluded: dict[str, int] | None = None,
                 *, batches: Batches | None = None, per_video: dict[str, dict[str, int]] | None = None,
                 videos: dict[str, str] | None = None, seeds: list[int] | None = None,
                 batch_rows: int | None = None):
        if (examples is None) == (batches is None):
            raise ValueError("ExportRows needs either examples or batches")
        self.snapshot_id = snapshot_id
        self.examples = examples
        self.excluded = dict(excluded or {})
        self.batch_rows = int(batch_rows or BATCH_ROWS)
        self._batches = batches
        if examples is not None:
            per_video, videos = {}, {}
            for e in examples:
                c = per_video.setdefault(e["video_id"], {})
                c[e["split"]] = c.get(e["split"], 0) + 1
                videos[e["video_id"]] = e["video_path"]
            seeds = sorted({int(e["seed"]) for e in examples if e["seed"] is not None})
        self.per_video: dict[str, dict[str, int]] = dict(per_video or {})   # video_id -> {split: examples}
        self.videos: dict[str, str] = dict(videos or {})                     # video_id -> media file
        self.seeds: list[int] = list(seeds or [])

    def count(self, split: str) -> int:
        return sum(c.get(split, 0) for c in self.per_video.values())

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

    def without(self, video_ids: set[str] | dict, reason: str = "missing_video") -> ExportRows:
        """These rows less every example of `video_ids` (counted under `reason` in `excluded`)."""
        drop = set(video_ids) & set(self.per_video)
        if not drop:
            return self
        inner = self.batches

        def batches(split: str) -> Iterator[list[dict]]:
            for batch in inner(split):
                kept = [e for e in batch if e["video_id"] not in drop]
                if kept:
                    yield kept
        gone = sum(sum(self.per_video[v].values()) for v in drop)
        excluded = self.excluded | {reason: self.excluded.get(reason, 0) + gone}
        return ExportRows(self.snapshot_id, excluded=excluded, batches=batches, seeds=self.seeds,
                          per_video={v: c for v, c in self.per_video.items() if v not in drop},
                          videos={v: p for v, p in self.videos.items() if v not in drop}, batch_rows=self.batch_rows)


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
    per_video: dict[str, dict[str, int]] = {}
    videos, seeds, missing = {}, set(), 0
    for r in wh.query(_SUMMARY_SQL.format(examples=sql), q).iter_rows(named=True):
        if r["video_path"] is None:
            missing += r["n"]
            continue
        c = per_video.setdefault(r["video_id"], {})
        c[r["split"]] = c.get(r["split"], 0) + r["n"]
        videos[r["video_id"]] = r["video_path"]
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

    return ExportRows(v, excluded=excluded, batches=batches, per_video=per_video, videos=videos, seeds=sorted(seeds),
                      batch_rows=n)
