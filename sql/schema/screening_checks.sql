-- table: screening_checks
-- key: video_id, check_name
-- scope: subject_id
-- doc: Per-check results behind each screening decision (media, moderation, text and visual relevance).
CREATE TABLE IF NOT EXISTS screening_checks (
    video_id VARCHAR,
    check_name VARCHAR,      -- media | moderation | text_relevance | visual_relevance
    subject_id VARCHAR,
    kp_id VARCHAR,           -- the knowledge point the check was made against (relevance checks redo on change)
    passed BOOLEAN,          -- NULL: not decidable (e.g. the model layer is absent)
    score DOUBLE,
    detail VARCHAR,          -- JSON or message
    run_id VARCHAR
);
