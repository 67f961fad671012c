-- Near-duplicate window pairs: corpus windows vs benchmark windows within Hamming distance $t.
-- Inputs (relations the caller provides): _corpus_windows(video_id, window_index, start_s, phash UBIGINT),
--   _bench_windows(benchmark, bench_video_id, item_id, window_index, start_s, phash UBIGINT).
-- Multi-index hashing: the 64 bits are cut into $t + 1 bands; two hashes within distance t differ in at most t
-- bands, so (pigeonhole) at least one band is identical: a banded equi-join finds every such pair (exact
-- recall), and bit_count(xor(a, b)) <= $t removes the false candidates.
WITH bands AS (
    SELECT b::INTEGER AS band,
           ((b * 64) // ($t + 1))::INTEGER AS lo,
           (((b + 1) * 64) // ($t + 1) - (b * 64) // ($t + 1))::INTEGER AS width
    FROM range($t + 1) r(b)
), masks AS (
    SELECT band, lo,
           CASE WHEN width >= 64 THEN 18446744073709551615::UBIGINT
                ELSE ((1::UBIGINT << width) - 1::UBIGINT) END AS mask
    FROM bands
), cb AS (
    SELECT c.video_id, c.window_index, c.start_s, c.phash, m.band, (c.phash >> m.lo) & m.mask AS bandval
    FROM _corpus_windows c CROSS JOIN masks m
), bb AS (
    SELECT w.benchmark, w.bench_video_id, w.item_id, w.window_index, w.start_s, w.phash, m.band,
           (w.phash >> m.lo) & m.mask AS bandval
    FROM _bench_windows w CROSS JOIN masks m
)
SELECT DISTINCT cb.video_id, cb.window_index, cb.start_s,
       bb.benchmark, bb.bench_video_id, bb.item_id, bb.window_index AS bench_window, bb.start_s AS bench_start_s,
       bit_count(xor(cb.phash, bb.phash))::INTEGER AS dist
FROM cb JOIN bb ON cb.band = bb.band AND cb.bandval = bb.bandval
WHERE bit_count(xor(cb.phash, bb.phash)) <= $t
