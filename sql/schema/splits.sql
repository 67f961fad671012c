-- table: splits
-- key: video_id
-- scope: subject_id
-- doc: SFT / RL assignment per video (all examples of a video on one side); a pure function of (video_id, seed).
CREATE TABLE IF NOT EXISTS splits (
    video_id VARCHAR,
    subject_id VARCHAR,
    split VARCHAR,           -- sft | rl
    seed BIGINT,
    ratio DOUBLE,            -- target SFT share the assignment used (0.64 by default)
    bucket DOUBLE,           -- the video's hash position in [0, 1): sft iff bucket < ratio
    examples INTEGER,        -- verified examples of the video at split time
    run_id VARCHAR
);
