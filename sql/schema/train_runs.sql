-- table: train_runs
-- key: train_run_id
-- doc: One row per training run (SFT or GRPO): base model, data and the warehouse snapshot + export manifest it read, hyper-parameters, outcome.
CREATE TABLE IF NOT EXISTS train_runs (
    train_run_id VARCHAR,     -- the output folder's run name, stable across retries of the same run
    kind VARCHAR,             -- sft | grpo
    base_model VARCHAR,       -- model path or id it started from (an SFT output for SFT->RL, the base for Zero-RL)
    data_path VARCHAR,        -- the export file it trained on
    data_sha256 VARCHAR,
    manifest_path VARCHAR,    -- the export manifest next to the data file
    snapshot_id BIGINT,       -- warehouse snapshot the export was made from
    split_seed BIGINT,
    launcher VARCHAR,         -- local | docker | kubernetes
    params VARCHAR,           -- JSON of the hyper-parameters
    output_dir VARCHAR,       -- final model + processor
    global_step BIGINT,
    train_loss DOUBLE,
    final_reward DOUBLE,      -- GRPO: mean reward of the last logged step
    examples BIGINT,
    seconds DOUBLE,
    status VARCHAR,           -- success | failed
    error VARCHAR,
    finished_at TIMESTAMP,
    run_id VARCHAR
);
