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
    score DOUBLE,            -- youtube_id: 1.0; phash: matched windows / windows of the shorter video
    windows_matched INTEGER, -- phash: length of the longest in-order run of matching windows (youtube_id: NULL)
    offset_s DOUBLE,         -- phash: median time offset corpus - benchmark of the run (trimmed copies: != 0)
    mean_distance DOUBLE,    -- phash: mean Hamming distance of the run's window pairs
    run_id VARCHAR
);
