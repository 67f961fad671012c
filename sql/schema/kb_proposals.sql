-- table: kb_proposals
-- key: proposal_id
-- scope: subject_id
-- doc: Knowledge-point proposals from `videokr kb expand`: pending until accepted (flag or review), or rejected with a reason.
CREATE TABLE IF NOT EXISTS kb_proposals (
    proposal_id VARCHAR,     -- kbp-<16 hex of sha256(subject_id, normalised course, lecture, name)>
    subject_id VARCHAR,
    course VARCHAR,          -- parent course name (existing or new)
    lecture VARCHAR,         -- parent lecture name (existing or new)
    name VARCHAR,
    statement VARCHAR,
    keywords VARCHAR[],
    status VARCHAR,          -- pending | accepted | rejected
    reason VARCHAR,          -- why rejected (schema:..., duplicate_of_bank:..., duplicate_in_batch:..., parent:...)
    kp_id VARCHAR,           -- the knowledge point id it gets (knowledge_points.kp_id once accepted)
    model VARCHAR,
    prompt_version VARCHAR,
    call_id VARCHAR,
    run_id VARCHAR
);
