"""Read the exportable examples at one warehouse snapshot: verified_qa + splits + downloads.path, minus contamination.

Rows come back sorted by (split, problem_id), so the same snapshot always yields the same rows in the same order.
"""
from __future__ import annotations

from dataclasses import dataclass, field

_EXAMPLES_SQL = """
SELECT q.candidate_id AS problem_id, q.video_id, q.subject_id, q.kp_id, q.skill, q.problem_type, q.question,
       q.options, q.answer, q.think, s.split, s.seed, d.path AS video_path
FROM verified_qa q AT (VERSION => {v})
JOIN splits s AT (VERSION => {v}) ON s.video_id = q.video_id
LEFT JOIN downloads d AT (VERSION => {v}) ON d.video_id = q.video_id
WHERE ($all_subjects OR q.subject_id IN (SELECT unnest($subjects::VARCHAR[])))
  AND q.video_id NOT IN (SELECT video_id FROM contamination AT (VERSION => {v}) WHERE video_id IS NOT NULL)
ORDER BY s.split, q.candidate_id
"""

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


@dataclass
class ExportRows:
    snapshot_id: int
    examples: list[dict]
    excluded: dict[str, int] = field(default_factory=dict)

    @property
    def seeds(self) -> list[int]:
        return sorted({int(e["seed"]) for e in self.examples if e["seed"] is not None})

    def by_split(self, split: str) -> list[dict]:
        return [e for e in self.examples if e["split"] == split]


INPUT_TABLES = ["verified_qa", "splits", "downloads", "contamination"]


def read_rows(wh, snapshot_id: int | None = None, subjects: list[str] | None = None) -> ExportRows:
    """Examples at `snapshot_id` for `subjects` (empty: all). By default the newest snapshot that changed an input
    table: the same rows as now, and the same export identity while the inputs do not change."""
    v = int(wh.data_snapshot(INPUT_TABLES) if snapshot_id is None else snapshot_id)
    p = {"subjects": sorted(subjects or []), "all_subjects": not subjects}
    rows = wh.query(_EXAMPLES_SQL.format(v=v), p).to_dicts()
    excluded = wh.query(_EXCLUDED_SQL.format(v=v), p).to_dicts()[0]
    keep = [r for r in rows if r["video_path"]]
    excluded = {k: int(x or 0) for k, x in excluded.items()} | {"missing_video": len(rows) - len(keep)}
    for r in keep:
        r["options"] = list(r["options"] or [])
    return ExportRows(v, keep, excluded)
