-- view: v_benchmark_coverage
-- doc: Per benchmark: its items (and those with no YouTube id), the distinct videos they use, videos fetched / missing / failed (benchmark_videos), videos hashed into benchmark_windows, and items whose video is hashed (so near-duplicate matching covers them).
CREATE OR REPLACE VIEW v_benchmark_coverage AS
WITH item_videos AS (
    SELECT DISTINCT benchmark, item_id, video_id
    FROM (SELECT benchmark, item_id, unnest(coalesce(youtube_ids, [youtube_id])) AS video_id FROM benchmark_items)
    WHERE video_id IS NOT NULL
), videos AS (
    SELECT benchmark, video_id FROM item_videos
    UNION
    SELECT benchmark, video_id FROM benchmark_videos
), hashed AS (
    SELECT DISTINCT benchmark, bench_video_id AS video_id FROM benchmark_windows
), names AS (
    SELECT benchmark FROM benchmark_items UNION SELECT benchmark FROM benchmark_videos
    UNION SELECT benchmark FROM benchmark_windows
), items AS (
    SELECT benchmark, count(*) AS items, count(*) FILTER (WHERE youtube_id IS NULL) AS items_without_video
    FROM benchmark_items GROUP BY benchmark
), fetched AS (
    SELECT benchmark, count(*) FILTER (WHERE status = 'ok') AS fetched,
           count(*) FILTER (WHERE status = 'missing') AS missing, count(*) FILTER (WHERE status = 'failed') AS failed
    FROM benchmark_videos GROUP BY benchmark
)
SELECT n.benchmark,
       coalesce(i.items, 0) AS items,
       coalesce(i.items_without_video, 0) AS items_without_video,
       (SELECT count(*) FROM videos v WHERE v.benchmark = n.benchmark) AS videos,
       coalesce(f.fetched, 0) AS fetched,
       coalesce(f.missing, 0) AS missing,
       coalesce(f.failed, 0) AS failed,
       (SELECT count(*) FROM hashed h WHERE h.benchmark = n.benchmark) AS hashed,
       (SELECT count(DISTINCT iv.item_id) FROM item_videos iv JOIN hashed h USING (benchmark, video_id)
        WHERE iv.benchmark = n.benchmark) AS items_hashed
FROM names n
LEFT JOIN items i ON i.benchmark = n.benchmark
LEFT JOIN fetched f ON f.benchmark = n.benchmark
ORDER BY n.benchmark;
