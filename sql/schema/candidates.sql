-- table: candidates
-- key: candidate_id
-- scope: subject_id
-- doc: Generated question candidates (3 skills; multiple choice or open-ended, each with a CoT), with lineage.
CREATE TABLE IF NOT EXISTS candidates (
    candidate_id VARCHAR,    -- qa-<16 hex of sha256(video_id, skill, problem_type, question)>, stable across reruns
    video_id VARCHAR,
    kp_id VARCHAR,
    subject_id VARCHAR,
    skill VARCHAR,           -- basic_video_reasoning | knowledge_enhanced_perception | knowledge_intensive_reasoning
    problem_type VARCHAR,    -- multiple choice | open-ended
    question VARCHAR,
    options VARCHAR[],       -- ["A. ...", "B. ..."] (4-10) for multiple choice; NULL for open-ended
    answer VARCHAR,          -- the correct letter (multiple choice) or a short reference answer (open-ended)
    think VARCHAR,           -- chain-of-thought rationale, one step per line
    model VARCHAR,           -- generator model that wrote it
    prompt_version VARCHAR,  -- e.g. generate_qa.v1
    call_id VARCHAR,         -- llm_calls.request_key of the generation call
    evidence_s DOUBLE,       -- when the generator says the question's evidence is shown (seconds), or NULL
    run_id VARCHAR
);
