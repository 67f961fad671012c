-- table: window_hashes
-- key: video_id, window_index
-- scope: video_id
-- doc: Perceptual hash per 20-second window of each kept video (per-bit majority of 1 Hz frame pHashes, letterbox bars stripped and corners masked: jobs/media/windows.py), for near-duplicate decontamination.
CREATE TABLE IF NOT EXISTS window_hashes (
    video_id VARCHAR,
    subject_id VARCHAR,
    window_index INTEGER,    -- 0-based; window i covers [20 i, 20 (i + 1)) seconds, the last one is cut at the end
    start_s DOUBLE,
    end_s DOUBLE,
    phash UBIGINT,           -- 64-bit hash, bit 63 = first bit of imagehash's 8x8 array (int(str(imagehash), 16))
    frame_count INTEGER,     -- distinct frames aggregated into the hash
    quality INTEGER,         -- information score 0..100: median of the frames' (jobs/media/phash.py quality_from_small); low = blank/uniform/fade, never near-duplicate evidence
    motion UBIGINT,          -- change instants: 3 masks of 20 bits (jobs/media/windows.py motion_code), a second evidence channel
    run_id VARCHAR
);
