-- table: contamination
-- key: video_id, benchmark, matched_item, method
-- scope: subject_id
-- doc: Corpus videos that overlap an evaluation benchmark (same YouTube id, or near-duplicate windows); excluded downstream.
CREATE TABLE IF NOT EXISTS contamination (
    video_id VARCHAR,
    subject_id VARCHAR,
    benchmark VARCHAR,
    matched_item VARCHAR,    -- benchmark item id (youtube_id) or benchmark video / item (phash)
    method VARCHAR,          -- youtube_id | phash
    score DOUBLE,            -- youtube_id: 1.0; phash: matched windows / corpus windows aligned with the benchmark video
    windows_matched INTEGER, -- phash: windows of the best in-order run of matching windows (youtube_id: NULL)
    offset_s DOUBLE,         -- phash: time offset corpus - benchmark of the run, whole seconds (shifted copies: != 0)
    mean_distance DOUBLE,    -- phash: mean Hamming distance of the run's window pairs
    evidence VARCHAR,        -- phash: JSON list of the run's windows [{"window_index", "bench_start_s", "distance"}]
    run_id VARCHAR
);
