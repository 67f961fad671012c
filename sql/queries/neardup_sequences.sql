-- Sequence matching over near-duplicate window pairs (the output of neardup_pairs.sql, provided as _pairs).
-- A copy of a benchmark video matches a run of windows in the same order with one time offset
-- (corpus start - benchmark start; non-zero for trimmed copies). Per (corpus video, benchmark video):
--   1. group pairs by offset on two staggered grids of width $tol_s (an offset cluster split by one grid line is
--      whole on the other grid);
--   2. keep, per corpus window and offset cluster, its closest benchmark window;
--   3. cut runs where consecutive matched corpus windows are more than $max_gap windows apart;
--   4. windows_matched = min(distinct corpus windows, distinct benchmark windows) of the longest run; report the
--      pair when it reaches k_eff = least($k, windows of either video).
-- Inputs also: _corpus_windows and _bench_windows (for per-video window counts).
WITH offs AS (
    SELECT *, start_s - bench_start_s AS offset_s FROM _pairs
), grids AS (
    SELECT *, 0 AS phase, floor(offset_s / $tol_s)::BIGINT AS cell FROM offs
    UNION ALL
    SELECT *, 1 AS phase, floor(offset_s / $tol_s + 0.5)::BIGINT AS cell FROM offs
), best AS (
    SELECT video_id, benchmark, bench_video_id, phase, cell, window_index,
           arg_min(bench_window, dist) AS bench_window, min(dist) AS dist,
           arg_min(offset_s, dist) AS offset_s, any_value(item_id) AS item_id
    FROM grids
    GROUP BY ALL
), gaps AS (
    SELECT *, CASE WHEN window_index - lag(window_index) OVER w > $max_gap + 1 THEN 1 ELSE 0 END AS new_run
    FROM best
    WINDOW w AS (PARTITION BY video_id, benchmark, bench_video_id, phase, cell ORDER BY window_index)
), runs AS (
    SELECT *, sum(new_run) OVER (PARTITION BY video_id, benchmark, bench_video_id, phase, cell
                                 ORDER BY window_index ROWS UNBOUNDED PRECEDING) AS run_no
    FROM gaps
), run_stats AS (
    SELECT video_id, benchmark, bench_video_id, any_value(item_id) AS item_id,
           least(count(DISTINCT window_index), count(DISTINCT bench_window))::INTEGER AS windows_matched,
           median(offset_s) AS offset_s, avg(dist) AS mean_distance
    FROM runs
    GROUP BY video_id, benchmark, bench_video_id, phase, cell, run_no
), best_run AS (
    SELECT video_id, benchmark, bench_video_id,
           arg_max(item_id, windows_matched) AS item_id,
           max(windows_matched) AS windows_matched,
           arg_max(offset_s, windows_matched) AS offset_s,
           arg_max(mean_distance, windows_matched) AS mean_distance
    FROM run_stats
    GROUP BY ALL
), n_corpus AS (
    SELECT video_id, count(*) AS n FROM _corpus_windows GROUP BY ALL
), n_bench AS (
    SELECT benchmark, bench_video_id, count(*) AS n FROM _bench_windows GROUP BY ALL
)
SELECT r.video_id, r.benchmark, coalesce(r.item_id, r.bench_video_id) AS matched_item, r.bench_video_id,
       'phash' AS method,
       round(r.windows_matched / least(c.n, b.n), 4)::DOUBLE AS score,
       r.windows_matched, r.offset_s::DOUBLE AS offset_s, round(r.mean_distance, 4)::DOUBLE AS mean_distance
FROM best_run r
JOIN n_corpus c USING (video_id)
JOIN n_bench b USING (benchmark, bench_video_id)
WHERE r.windows_matched >= greatest(1, least($k, c.n, b.n))
ORDER BY r.video_id, r.benchmark, matched_item
