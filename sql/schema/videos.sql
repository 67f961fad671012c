-- table: videos
-- key: video_id
-- scope: subject_id
-- doc: Candidate videos with YouTube details and CC-BY attribution; ineligible ones are kept with reject_reason.
CREATE TABLE IF NOT EXISTS videos (
    video_id VARCHAR,        -- 11-character YouTube id
    kp_id VARCHAR,           -- the knowledge point whose search found it first
    subject_id VARCHAR,
    query_id VARCHAR,        -- the query that found it first
    title VARCHAR,
    description VARCHAR,
    channel_id VARCHAR,
    channel_title VARCHAR,   -- attribution: author
    channel_url VARCHAR,     -- attribution: https://www.youtube.com/channel/<channel_id>
    video_url VARCHAR,       -- attribution: https://www.youtube.com/watch?v=<video_id>
    license VARCHAR,         -- status.license: creativeCommon | youtube
    duration_s DOUBLE,       -- contentDetails.duration in seconds
    has_captions BOOLEAN,    -- contentDetails.caption == 'true'
    published_at TIMESTAMP,
    privacy_status VARCHAR,
    eligible BOOLEAN,        -- passes the collect filters (CC, <= max duration, captions, available)
    reject_reason VARCHAR,   -- first failed filter: license | duration | captions | unavailable | live (NULL if eligible)
    reject_reasons VARCHAR[],-- all failed filters
    reject_detail VARCHAR,   -- human-readable detail, e.g. 'duration 2400 s > 1800 s'
    run_id VARCHAR
);
