-- table: api_usage
-- key: call_id
-- scope: subject_id
-- doc: Quota ledger: one row per API call (retries included) with the units it costs; never holds the key itself.
CREATE TABLE IF NOT EXISTS api_usage (
    call_id VARCHAR,         -- uuid of the call
    source VARCHAR,          -- youtube | sample
    key_fingerprint VARCHAR, -- first 12 hex of sha256(api key); 'sample' for the stand-in
    method VARCHAR,          -- search.list | videos.list
    units INTEGER,           -- quota units charged (unit table from [youtube.units])
    day DATE,                -- quota day: the calendar day in America/Los_Angeles (YouTube resets at midnight PT)
    status VARCHAR,          -- ok | http_<code> | quota_exceeded | error
    query_id VARCHAR,        -- the search query it served (search.list), else NULL
    kp_id VARCHAR,
    subject_id VARCHAR,
    called_at TIMESTAMP,     -- UTC
    run_id VARCHAR
);
