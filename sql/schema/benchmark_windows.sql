-- table: benchmark_windows
-- key: benchmark, bench_video_id, window_index
-- scope: benchmark
-- doc: Perceptual hashes of 20-second windows of benchmark videos (when their files are available), for near-duplicate search.
CREATE TABLE IF NOT EXISTS benchmark_windows (
    benchmark VARCHAR,
    bench_video_id VARCHAR,  -- the benchmark video (YouTube id or local name)
    item_id VARCHAR,         -- benchmark item the video belongs to (NULL if several / unknown)
    window_index INTEGER,
    start_s DOUBLE,
    end_s DOUBLE,
    phash UBIGINT,           -- 64-bit pHash, same definition as window_hashes.phash (jobs.frames.window_hashes_for)
    source_path VARCHAR,     -- the video file hashed
    run_id VARCHAR
);
