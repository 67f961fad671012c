-- table: eval_results
-- key: eval_id, dataset, frames, group_by, group_value
-- doc: Accuracy of a model checkpoint on an eval set at a frame budget, overall and by question type and subject.
CREATE TABLE IF NOT EXISTS eval_results (
    eval_id VARCHAR,          -- hash of (model, checkpoint, dataset file, frames, snapshot): reruns merge
    model VARCHAR,            -- model name or path
    checkpoint VARCHAR,       -- the checkpoint folder evaluated
    dataset VARCHAR,          -- eval set name (export split, mmvu, videommmu, ...)
    frames INTEGER,           -- frame budget (16, 32, 64, 128)
    group_by VARCHAR,         -- overall | question_type | subject
    group_value VARCHAR,      -- '' for overall; "multiple choice" / "open-ended"; subject id
    n BIGINT,                 -- items scored
    accuracy DOUBLE,          -- mean score: exact letter match for MC, ROUGE (or judge) for open-ended
    format_rate DOUBLE,       -- share of responses in the <think>/<answer> format
    failed BIGINT,            -- items that could not be scored (missing video, decode error)
    scorer VARCHAR,           -- rule+rouge | rule+judge:<model>
    snapshot_id BIGINT,       -- warehouse snapshot the eval set came from (NULL for external benchmarks)
    run_id VARCHAR
);
