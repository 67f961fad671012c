-- view: v_contamination_by_benchmark
-- doc: Per benchmark: its items, and the items matched by a corpus video through the same YouTube id or a near-duplicate (pHash windows), with the corpus videos involved.
CREATE OR REPLACE VIEW v_contamination_by_benchmark AS
WITH items AS (
    SELECT benchmark, count(*) AS items FROM benchmark_items GROUP BY benchmark
), matched AS (
    SELECT benchmark,
           count(DISTINCT matched_item) FILTER (WHERE method = 'youtube_id') AS items_matched_by_id,
           count(DISTINCT matched_item) FILTER (WHERE method = 'phash') AS items_matched_by_neardup,
           count(DISTINCT matched_item) AS items_matched,
           count(DISTINCT video_id) FILTER (WHERE method = 'youtube_id') AS videos_by_id,
           count(DISTINCT video_id) FILTER (WHERE method = 'phash') AS videos_by_neardup
    FROM contamination
    GROUP BY benchmark
)
SELECT coalesce(i.benchmark, m.benchmark) AS benchmark, coalesce(i.items, 0) AS items,
       coalesce(m.items_matched_by_id, 0) AS items_matched_by_id,
       coalesce(m.items_matched_by_neardup, 0) AS items_matched_by_neardup,
       coalesce(m.items_matched, 0) AS items_matched,
       coalesce(m.videos_by_id, 0) AS videos_by_id, coalesce(m.videos_by_neardup, 0) AS videos_by_neardup
FROM items i FULL OUTER JOIN matched m ON i.benchmark = m.benchmark
ORDER BY benchmark;
