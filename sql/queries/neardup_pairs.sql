-- Near-duplicate window pairs: corpus windows vs benchmark windows within Hamming distance $t.
-- Inputs (relations the caller provides): _corpus_windows(video_id, window_index, start_s, phash UBIGINT),
--   _bench_windows(benchmark, bench_video_id, item_id, window_index, start_s, phash UBIGINT).
-- Multi-index hashing: the 64 bits are cut into $t + 1 bands; two hashes within distance t differ in at most t
-- bands, so (pigeonhole) at least one band is identical: an equi-join per band finds every such pair (exact
-- recall), and bit_count(xor(a, b)) <= $t drops the false candidates. A pair equal in several bands is found
-- several times: DISTINCT.
-- The band_joins placeholder is filled by jobs/neardup.py with one copy of neardup_band.sql per band, joined by UNION ALL.
SELECT DISTINCT * FROM ({band_joins}) AS banded
