-- One band of the seed join (see neardup_pairs.sql): bits [{lo}, {lo} + width) of hash column {col}, masked by
-- {mask}. {dist} is the window distance (jobs/dedup/neardup.py window_distance_sql).
SELECT c.video_id, c.start_s, b.benchmark, b.bench_video_id, b.start_s AS bench_start_s
FROM _corpus_windows c
JOIN _bench_windows b ON (c.{col} >> {lo}) & {mask}::UBIGINT = (b.{col} >> {lo}) & {mask}::UBIGINT
WHERE {dist} <= $t
