-- table: captions
-- key: video_id, cue_index
-- scope: subject_id
-- doc: Caption cues parsed from each downloaded WebVTT file.
CREATE TABLE IF NOT EXISTS captions (
    video_id VARCHAR,
    cue_index INTEGER,
    subject_id VARCHAR,
    start_s DOUBLE,
    end_s DOUBLE,
    text VARCHAR,
    run_id VARCHAR
);
