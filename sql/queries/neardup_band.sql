-- One band of the multi-index join (see neardup_pairs.sql): bits [{lo}, {lo} + width) masked by {mask}.
SELECT c.video_id, c.window_index, c.start_s,
       b.benchmark, b.bench_video_id, b.item_id, b.window_index AS bench_window, b.start_s AS bench_start_s,
       bit_count(xor(c.phash, b.phash))::INTEGER AS dist
FROM _corpus_windows c
JOIN _bench_windows b ON (c.phash >> {lo}) & {mask}::UBIGINT = (b.phash >> {lo}) & {mask}::UBIGINT
WHERE bit_count(xor(c.phash, b.phash)) <= $t
