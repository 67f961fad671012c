-- check: split_grouped_by_video
-- doc: Every video has exactly one split row (all its examples on one side). Rows returned = violations.
SELECT video_id, count(*) AS rows, list(split) AS splits
FROM splits GROUP BY video_id HAVING count(*) > 1;
