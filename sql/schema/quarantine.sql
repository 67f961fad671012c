-- table: quarantine
-- key: stage, item
-- doc: Bad input items a stage set aside, with the reason; the run went on without them.
CREATE TABLE IF NOT EXISTS quarantine (
    stage VARCHAR,
    item VARCHAR,            -- what was bad: a file path, a video id, a knowledge-bank location
    reason VARCHAR,          -- short machine-readable reason, e.g. truncated_mp4
    detail VARCHAR,          -- the error message
    quarantined_at TIMESTAMP,
    run_id VARCHAR
);
