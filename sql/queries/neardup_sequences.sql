-- Sequence verification of near-duplicate seeds (_seeds: video_id, benchmark, bench_video_id, offset_s, the output
-- of neardup_pairs.sql). A copy of a benchmark video is a run of corpus windows in order, each close to the
-- benchmark window at the same time offset. Per seed:
--   1. align every corpus window of the video with the benchmark windows starting within $tol_s of
--      (corpus start - offset); a pair is a hit when its distance ({dist}: the mean Hamming distance of the two
--      halves' pHashes, jobs/dedup/neardup.py window_distance_sql) is <= $t; the closest pair is kept per window;
--   2. runs of hits cut where consecutive hit windows are more than $max_gap windows apart;
--   3. a run counts when it holds >= $k hits plus one per window it skips (2 hits around a miss are weaker
--      evidence than 2 in a row: on the transformation set the only negative flagged at t = 8-9 was such a
--      pair), whatever the videos' lengths; the strongest per (corpus video, benchmark video) is reported, with
--      its windows as evidence [{window_index, bench_start_s, distance}]. Strength = sum of t + 1 - distance
--      over its hits: a run at a neighbouring offset, its windows a few seconds off, can be as long but is
--      less close.
-- score = windows of the run / aligned windows of its offset (how much of the overlap matches).
WITH cand AS (
    SELECT s.video_id, s.benchmark, s.bench_video_id, s.offset_s, c.window_index, b.start_s AS bench_start_s,
           b.item_id, ({dist})::DOUBLE AS dist
    FROM _seeds s
    JOIN _corpus_windows c USING (video_id)
    JOIN _bench_windows b
         ON b.benchmark = s.benchmark AND b.bench_video_id = s.bench_video_id
         AND b.start_s BETWEEN c.start_s - s.offset_s - $tol_s AND c.start_s - s.offset_s + $tol_s
), aligned AS (
    SELECT video_id, benchmark, bench_video_id, offset_s, window_index, min(item_id) AS item_id,
           min(dist) <= $t AS hit, min(dist) AS dist,
           first(bench_start_s ORDER BY dist, bench_start_s) AS bench_start_s
    FROM cand
    GROUP BY ALL
), gaps AS (
    SELECT *, CASE WHEN window_index - lag(window_index) OVER w > $max_gap + 1 THEN 1 ELSE 0 END AS new_run
    FROM aligned
    WHERE hit
    WINDOW w AS (PARTITION BY video_id, benchmark, bench_video_id, offset_s ORDER BY window_index)
), runs AS (
    SELECT *, sum(new_run) OVER (PARTITION BY video_id, benchmark, bench_video_id, offset_s
                                 ORDER BY window_index ROWS UNBOUNDED PRECEDING) AS run_no
    FROM gaps
), n_aligned AS (
    SELECT video_id, benchmark, bench_video_id, offset_s, count(*) AS n FROM aligned GROUP BY ALL
), run_stats AS (
    SELECT video_id, benchmark, bench_video_id, offset_s, min(item_id) AS item_id,
           count(*)::INTEGER AS windows_matched, avg(dist) AS mean_distance, sum($t + 1 - dist) AS strength,
           list({'window_index': window_index, 'bench_start_s': bench_start_s, 'distance': dist}
                ORDER BY window_index) AS evidence
    FROM runs
    GROUP BY video_id, benchmark, bench_video_id, offset_s, run_no
    HAVING 2 * count(*) - (max(window_index) - min(window_index) + 1) >= $k     -- each skipped window costs a hit
), best_run AS (      -- the strongest run (its hits weighted by t + 1 - distance: longer and closer), then the
    SELECT r.video_id, r.benchmark, r.bench_video_id,                  -- closest; ties broken by offset
           first(r.item_id ORDER BY r.strength DESC, r.mean_distance, r.offset_s) AS item_id,
           first(r.windows_matched ORDER BY r.strength DESC, r.mean_distance, r.offset_s) AS windows_matched,
           first(r.offset_s ORDER BY r.strength DESC, r.mean_distance, r.offset_s) AS offset_s,
           first(r.mean_distance ORDER BY r.strength DESC, r.mean_distance, r.offset_s) AS mean_distance,
           first(r.windows_matched / n.n ORDER BY r.strength DESC, r.mean_distance, r.offset_s) AS score,
           first(r.evidence ORDER BY r.strength DESC, r.mean_distance, r.offset_s) AS evidence
    FROM run_stats r JOIN n_aligned n USING (video_id, benchmark, bench_video_id, offset_s)
    GROUP BY ALL
)
SELECT video_id, benchmark, coalesce(item_id, bench_video_id) AS matched_item, bench_video_id,
       'phash' AS method, round(score, 4)::DOUBLE AS score, windows_matched::INTEGER AS windows_matched,
       offset_s::DOUBLE AS offset_s, round(mean_distance, 4)::DOUBLE AS mean_distance, evidence
FROM best_run
WHERE windows_matched >= $k
ORDER BY video_id, benchmark, matched_item
