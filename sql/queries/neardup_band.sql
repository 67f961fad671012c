-- One band of the seed join (see neardup_pairs.sql): bits [{lo}, {lo} + width) masked by {mask}.
SELECT c.video_id, c.start_s, b.benchmark, b.bench_video_id, b.start_s AS bench_start_s
FROM _corpus_windows c
JOIN _bench_windows b ON (c.phash >> {lo}) & {mask}::UBIGINT = (b.phash >> {lo}) & {mask}::UBIGINT
WHERE bit_count(xor(c.phash, b.phash)) <= $t
