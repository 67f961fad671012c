-- table: checks
-- key: candidate_id, check_name
-- scope: subject_id
-- doc: One row per verification check per candidate: self_consistency, video_dependency, cot_validation.
CREATE TABLE IF NOT EXISTS checks (
    candidate_id VARCHAR,
    check_name VARCHAR,      -- self_consistency | video_dependency | cot_validation
    passed BOOLEAN,          -- NULL when the check could not be computed (model call failed; see details)
    score DOUBLE,            -- self_consistency: share of k samples agreeing; video_dependency: share of blind
                             -- tries that failed; cot_validation: share of steps grounded
    details VARCHAR,         -- JSON: answers seen, thresholds used, ungrounded steps, errors
    model VARCHAR,           -- model of the role that ran the check
    call_id VARCHAR,         -- llm_calls.call_id (the first call when the check made several)
    subject_id VARCHAR,
    run_id VARCHAR
);
