-- table: window_hashes
-- key: video_id, window_index
-- scope: video_id
-- doc: Perceptual hashes per 20-second window of each kept video (pHash of the mean 1 Hz frame thumbnail of each 10-s half, letterbox bars stripped and corners masked: jobs/media/windows.py), for near-duplicate decontamination.
CREATE TABLE IF NOT EXISTS window_hashes (
    video_id VARCHAR,
    subject_id VARCHAR,
    window_index INTEGER,    -- 0-based; window i covers [20 i, 20 (i + 1)) seconds, the last one is cut at the end
    start_s DOUBLE,
    end_s DOUBLE,
    phash UBIGINT,           -- pHash of the window's first half, bit 63 = first bit of imagehash's 8x8 array (int(str(imagehash), 16))
    phash2 UBIGINT,          -- pHash of its second half (NULL: hashed before hash version 4, one whole-window hash)
    frame_count INTEGER,     -- distinct frames aggregated into the hash
    quality INTEGER,         -- information score 0..100: the lower of the halves' median frame score (jobs/media/phash.py quality_from_small); low = blank/uniform/fade, never near-duplicate evidence
    motion UBIGINT,          -- unused since hash version 4 (was: change instants of hash version 3)
    run_id VARCHAR
);
