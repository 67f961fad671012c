-- table: item_fingerprints
-- key: stage, item
-- scope: item
-- doc: Per stage and input item, the fingerprint of the inputs that produced its committed outputs (input rows' content, model, prompt version, parameters that matter). A stage skips an item whose fingerprint is unchanged, before any decode, cache lookup or model call; written in the same transaction as the item's outputs, so a crash never marks unfinished work done.
CREATE TABLE IF NOT EXISTS item_fingerprints (
    stage VARCHAR,
    item VARCHAR,            -- the stage's unit of work, e.g. a video id or a candidate id
    subject_id VARCHAR,
    fingerprint VARCHAR,     -- sha256 hex of the canonical inputs
    run_id VARCHAR
);
