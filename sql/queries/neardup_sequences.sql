-- Sequence verification of near-duplicate seeds (_seeds: video_id, benchmark, bench_video_id, offset_s, the output
-- of neardup_pairs.sql). A copy of a benchmark video is a run of corpus windows in order, each close to the
-- benchmark window at the same time offset, in picture and in timing. Per seed:
--   1. align every corpus window of the video with the benchmark windows starting within $tol_s of
--      (corpus start - offset); a pair is a hit when its pHashes are within $t bits AND its change patterns
--      (motion: three 20-bit masks, jobs/media/windows.py motion_code) differ in at most $max_mismatch changes,
--      a change being unmatched when the other side has no change of about its size (one level lower at
--      least) within motion_tol grid points (expression built by jobs/dedup/neardup.py motion_sql); the hit
--      (else the closest pair) is kept per corpus window;
--   2. runs of hits cut where consecutive hit windows are more than $max_gap windows apart;
--   3. the best run per (corpus video, benchmark video) is reported when it holds >= $k windows and
--      >= $min_changes corroborated changes (corpus changes of the middle level or more with a counterpart),
--      whatever the videos' lengths, with its windows as evidence: [{window_index, bench_start_s, distance,
--      changes}]. Unrelated lectures of one template look alike per window, but not their change instants.
-- score = hits / aligned windows of the seed's offset (how much of the overlap matches).
WITH cand AS (
    SELECT s.video_id, s.benchmark, s.bench_video_id, s.offset_s, c.window_index, b.start_s AS bench_start_s,
           b.item_id, bit_count(xor(c.phash, b.phash))::INTEGER AS dist,
           ({mismatch})::INTEGER AS mism, ({agree})::INTEGER AS agree
    FROM _seeds s
    JOIN (SELECT *, coalesce(motion, 0::UBIGINT) AS mc FROM _corpus_windows) c USING (video_id)
    JOIN (SELECT *, coalesce(motion, 0::UBIGINT) AS mb FROM _bench_windows) b
         ON b.benchmark = s.benchmark AND b.bench_video_id = s.bench_video_id
         AND b.start_s BETWEEN c.start_s - s.offset_s - $tol_s AND c.start_s - s.offset_s + $tol_s
), aligned AS (
    SELECT video_id, benchmark, bench_video_id, offset_s, window_index, min(item_id) AS item_id,
           bool_or(dist <= $t AND mism <= $max_mismatch) AS hit,
           first(bench_start_s ORDER BY dist <= $t AND mism <= $max_mismatch DESC, dist, bench_start_s) AS bench_start_s,
           first(dist ORDER BY dist <= $t AND mism <= $max_mismatch DESC, dist, bench_start_s) AS dist,
           first(agree ORDER BY dist <= $t AND mism <= $max_mismatch DESC, dist, bench_start_s) AS agree
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
    SELECT video_id, benchmark, bench_video_id, offset_s, count(*) AS n, count_if(hit) AS hits
    FROM aligned GROUP BY ALL
), run_stats AS (
    SELECT video_id, benchmark, bench_video_id, offset_s, min(item_id) AS item_id,
           count(*)::INTEGER AS windows_matched, avg(dist) AS mean_distance,
           list({'window_index': window_index, 'bench_start_s': bench_start_s, 'distance': dist, 'changes': agree}
                ORDER BY window_index) AS evidence
    FROM runs
    GROUP BY video_id, benchmark, bench_video_id, offset_s, run_no
    HAVING sum(agree) >= $min_changes
), best_run AS (      -- the longest run, then the closest; ties broken by offset, so the result is deterministic
    SELECT r.video_id, r.benchmark, r.bench_video_id,
           first(r.item_id ORDER BY r.windows_matched DESC, r.mean_distance, r.offset_s) AS item_id,
           max(r.windows_matched) AS windows_matched,
           first(r.offset_s ORDER BY r.windows_matched DESC, r.mean_distance, r.offset_s) AS offset_s,
           first(r.mean_distance ORDER BY r.windows_matched DESC, r.mean_distance, r.offset_s) AS mean_distance,
           first(r.windows_matched / n.n ORDER BY r.windows_matched DESC, r.mean_distance, r.offset_s) AS score,
           first(r.evidence ORDER BY r.windows_matched DESC, r.mean_distance, r.offset_s) AS evidence
    FROM run_stats r JOIN n_aligned n USING (video_id, benchmark, bench_video_id, offset_s)
    WHERE n.hits >= $min_share * n.n
    GROUP BY ALL
)
SELECT video_id, benchmark, coalesce(item_id, bench_video_id) AS matched_item, bench_video_id,
       'phash' AS method, round(score, 4)::DOUBLE AS score, windows_matched::INTEGER AS windows_matched,
       offset_s::DOUBLE AS offset_s, round(mean_distance, 4)::DOUBLE AS mean_distance, evidence
FROM best_run
WHERE windows_matched >= $k
ORDER BY video_id, benchmark, matched_item
