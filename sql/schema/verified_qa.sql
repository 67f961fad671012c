-- table: verified_qa
-- key: candidate_id
-- scope: subject_id
-- doc: Candidates that passed every verification check (same columns and lineage as candidates).
CREATE TABLE IF NOT EXISTS verified_qa (
    candidate_id VARCHAR,
    video_id VARCHAR,
    kp_id VARCHAR,
    subject_id VARCHAR,
    skill VARCHAR,
    problem_type VARCHAR,    -- multiple choice | open-ended
    question VARCHAR,
    options VARCHAR[],
    answer VARCHAR,          -- letter (multiple choice) or reference answer (open-ended)
    think VARCHAR,
    model VARCHAR,           -- generator model
    prompt_version VARCHAR,
    call_id VARCHAR,         -- the generation call
    think_words INTEGER,     -- words in think (computed once when written; the dataset views read it)
    think_steps INTEGER,     -- non-blank lines of think
    run_id VARCHAR
);
