-- table: benchmark_windows
-- key: benchmark, bench_video_id, window_index
-- scope: benchmark
-- doc: Perceptual hashes of 20-second windows starting every second of benchmark videos (when their files are available), for near-duplicate search at any time shift.
CREATE TABLE IF NOT EXISTS benchmark_windows (
    benchmark VARCHAR,
    bench_video_id VARCHAR,  -- the benchmark video (YouTube id or local name)
    item_id VARCHAR,         -- benchmark item the video belongs to (NULL if several / unknown)
    window_index INTEGER,    -- the window's start second (windows start every second: jobs.media.windows.Grid.sliding)
    start_s DOUBLE,
    end_s DOUBLE,
    phash UBIGINT,           -- first half's pHash, same definition as window_hashes.phash (jobs.media.windows)
    phash2 UBIGINT,          -- second half's pHash, same definition as window_hashes.phash2
    quality INTEGER,         -- same definition as window_hashes.quality
    frame_count INTEGER,
    motion UBIGINT,          -- unused since hash version 4 (as window_hashes.motion)
    hash_version INTEGER,    -- jobs.media.windows.HASH_VERSION the rows were hashed with (older rows are hashed again)
    source_path VARCHAR,     -- the video file hashed
    run_id VARCHAR
);
