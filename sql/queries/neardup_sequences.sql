-- Sequence verification of near-duplicate seeds (_seeds: video_id, benchmark, bench_video_id, offset_s, the output
-- of neardup_pairs.sql). A copy of a benchmark video is a run of corpus windows in order, each close to the
-- benchmark window at the same time offset. Per seed:
--   1. align every corpus window of the video with the benchmark windows starting within $tol_s of
--      (corpus start - offset), and keep the closest (distance = Hamming bits of 64);
--   2. hits: aligned windows within $t; runs of hits cut where consecutive hit windows are more than $max_gap
--      windows apart;
--   3. the best run per (corpus video, benchmark video) is reported when it holds >= $k windows, whatever the
--      videos' lengths (a clip needs k windows too), with its windows as evidence:
--      [{window_index, bench_start_s, distance}].
-- score = hits / aligned windows of the seed's offset (how much of the overlap matches).
WITH aligned AS (
    SELECT s.video_id, s.benchmark, s.bench_video_id, s.offset_s, c.window_index,
           first(b.start_s ORDER BY bit_count(xor(c.phash, b.phash)), b.start_s) AS bench_start_s,
           min(bit_count(xor(c.phash, b.phash)))::INTEGER AS dist, min(b.item_id) AS item_id
    FROM _seeds s
    JOIN _corpus_windows c USING (video_id)
    JOIN _bench_windows b ON b.benchmark = s.benchmark AND b.bench_video_id = s.bench_video_id
         AND b.start_s BETWEEN c.start_s - s.offset_s - $tol_s AND c.start_s - s.offset_s + $tol_s
    GROUP BY ALL
), gaps AS (
    SELECT *, CASE WHEN window_index - lag(window_index) OVER w > $max_gap + 1 THEN 1 ELSE 0 END AS new_run
    FROM aligned
    WHERE dist <= $t
    WINDOW w AS (PARTITION BY video_id, benchmark, bench_video_id, offset_s ORDER BY window_index)
), runs AS (
    SELECT *, sum(new_run) OVER (PARTITION BY video_id, benchmark, bench_video_id, offset_s
                                 ORDER BY window_index ROWS UNBOUNDED PRECEDING) AS run_no
    FROM gaps
), n_aligned AS (
    SELECT video_id, benchmark, bench_video_id, offset_s, count(*) AS n FROM aligned GROUP BY ALL
), run_stats AS (
    SELECT video_id, benchmark, bench_video_id, offset_s, min(item_id) AS item_id,
           count(*)::INTEGER AS windows_matched, avg(dist) AS mean_distance,
           list({'window_index': window_index, 'bench_start_s': bench_start_s, 'distance': dist}
                ORDER BY window_index) AS evidence
    FROM runs
    GROUP BY video_id, benchmark, bench_video_id, offset_s, run_no
), best_run AS (      -- the longest run, then the closest; ties broken by offset, so the result is deterministic
    SELECT r.video_id, r.benchmark, r.bench_video_id,
           first(r.item_id ORDER BY r.windows_matched DESC, r.mean_distance, r.offset_s) AS item_id,
           max(r.windows_matched) AS windows_matched,
           first(r.offset_s ORDER BY r.windows_matched DESC, r.mean_distance, r.offset_s) AS offset_s,
           first(r.mean_distance ORDER BY r.windows_matched DESC, r.mean_distance, r.offset_s) AS mean_distance,
           first(r.windows_matched / n.n ORDER BY r.windows_matched DESC, r.mean_distance, r.offset_s) AS score,
           first(r.evidence ORDER BY r.windows_matched DESC, r.mean_distance, r.offset_s) AS evidence
    FROM run_stats r JOIN n_aligned n USING (video_id, benchmark, bench_video_id, offset_s)
    GROUP BY ALL
)
SELECT video_id, benchmark, coalesce(item_id, bench_video_id) AS matched_item, bench_video_id,
       'phash' AS method, round(score, 4)::DOUBLE AS score, windows_matched::INTEGER AS windows_matched,
       offset_s::DOUBLE AS offset_s, round(mean_distance, 4)::DOUBLE AS mean_distance, evidence
FROM best_run
WHERE windows_matched >= $k
ORDER BY video_id, benchmark, matched_item
