-- view: v_benchmark_coverage
-- doc: Per benchmark: its items (and those with no YouTube id), the distinct videos they use, videos fetched / missing / failed (benchmark_videos), videos hashed into benchmark_windows, and items whose video is hashed (so near-duplicate matching covers them).
-- Each table is scanned once (materialized CTEs, no correlated subqueries): on a DuckLake catalog every table scan
-- costs catalog round trips, whatever the table's size.
CREATE OR REPLACE VIEW v_benchmark_coverage AS
WITH bi AS MATERIALIZED (
    SELECT benchmark, item_id, youtube_id, youtube_ids FROM benchmark_items
), bv AS MATERIALIZED (
    SELECT benchmark, video_id, status FROM benchmark_videos
), hashed AS MATERIALIZED (
    SELECT DISTINCT benchmark, bench_video_id AS video_id FROM benchmark_windows
), item_videos AS MATERIALIZED (
    SELECT DISTINCT benchmark, item_id, video_id
    FROM (SELECT benchmark, item_id, unnest(coalesce(youtube_ids, [youtube_id])) AS video_id FROM bi)
    WHERE video_id IS NOT NULL
), names AS (
    SELECT benchmark FROM bi UNION SELECT benchmark FROM bv UNION SELECT benchmark FROM hashed
), items AS (
    SELECT benchmark, count(*) AS items, count(*) FILTER (WHERE youtube_id IS NULL) AS items_without_video
    FROM bi GROUP BY benchmark
), fetched AS (
    SELECT benchmark, count(*) FILTER (WHERE status = 'ok') AS fetched,
           count(*) FILTER (WHERE status = 'missing') AS missing, count(*) FILTER (WHERE status = 'failed') AS failed
    FROM bv GROUP BY benchmark
), videos AS (
    SELECT benchmark, count(*) AS videos
    FROM (SELECT benchmark, video_id FROM item_videos UNION SELECT benchmark, video_id FROM bv) GROUP BY benchmark
), hashed_n AS (
    SELECT benchmark, count(*) AS hashed FROM hashed GROUP BY benchmark
), items_hashed AS (
    SELECT iv.benchmark, count(DISTINCT iv.item_id) AS items_hashed
    FROM item_videos iv JOIN hashed h USING (benchmark, video_id) GROUP BY iv.benchmark
)
SELECT n.benchmark,
       coalesce(i.items, 0) AS items,
       coalesce(i.items_without_video, 0) AS items_without_video,
       coalesce(v.videos, 0) AS videos,
       coalesce(f.fetched, 0) AS fetched,
       coalesce(f.missing, 0) AS missing,
       coalesce(f.failed, 0) AS failed,
       coalesce(h.hashed, 0) AS hashed,
       coalesce(ih.items_hashed, 0) AS items_hashed
FROM names n
LEFT JOIN items i ON i.benchmark = n.benchmark
LEFT JOIN fetched f ON f.benchmark = n.benchmark
LEFT JOIN videos v ON v.benchmark = n.benchmark
LEFT JOIN hashed_n h ON h.benchmark = n.benchmark
LEFT JOIN items_hashed ih ON ih.benchmark = n.benchmark
ORDER BY n.benchmark;
