-- table: search_hits
-- key: query_id, rank
-- scope: subject_id
-- doc: Video ids returned by each search query, in rank order (rank 0 = first result of page 1).
CREATE TABLE IF NOT EXISTS search_hits (
    query_id VARCHAR,
    rank INTEGER,
    video_id VARCHAR,
    kp_id VARCHAR,
    subject_id VARCHAR,
    run_id VARCHAR
);
