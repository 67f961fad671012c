-- table: screening
-- key: video_id
-- scope: subject_id
-- doc: One screening decision per eligible video (keep | reject | pending: a check not made yet, retried next run) with every reason and the check scores.
CREATE TABLE IF NOT EXISTS screening (
    video_id VARCHAR,
    subject_id VARCHAR,
    kp_id VARCHAR,
    decision VARCHAR,        -- keep | reject | pending
    reasons VARCHAR[],       -- failed checks: download | corrupt | moderation | text_relevance | visual_relevance
    text_relevance DOUBLE,   -- cosine(KP name+statement, video title+description+captions), all-MiniLM-L6-v2
    text_threshold DOUBLE,
    visual_relevance DOUBLE, -- relevance_judge score on sampled frames; NULL when the model layer was unavailable
    visual_verdict VARCHAR,  -- relevant | irrelevant | unavailable | error
    moderation VARCHAR,      -- pass | flagged | error
    moderation_detail VARCHAR, -- JSON: {"text": {category: severity}, "image": {...}, "flagged_by": ...}
    moderator VARCHAR,       -- azure | offline
    relevance_model VARCHAR,
    run_id VARCHAR
);
