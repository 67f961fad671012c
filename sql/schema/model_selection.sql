-- table: model_selection
-- key: step, model
-- scope: step
-- doc: Per step and candidate model: error rate from review_verdicts with its 95% Wilson interval, and the rule's pick (cheapest model whose upper bound is under the step's threshold; ties by error rate). A step with no selected row has no selection; reason says why.
CREATE TABLE IF NOT EXISTS model_selection (
    step VARCHAR,
    model VARCHAR,
    n INTEGER,                  -- judged samples (a sample judged by several reviewers counts once)
    errors INTEGER,             -- samples judged an error (majority of its verdicts; a tie counts as error)
    error_rate DOUBLE,          -- errors / n (NULL when n = 0)
    wilson_low DOUBLE,          -- 95% Wilson score interval of the error rate
    wilson_high DOUBLE,
    threshold DOUBLE,           -- the step's error-rate threshold ([review.steps.<step>] threshold)
    price DOUBLE,               -- price per call from [review] (NULL: not configured, never selected)
    qualifies BOOLEAN,          -- wilson_high < threshold
    selected BOOLEAN,           -- the rule's pick for the step (at most one per step)
    reason VARCHAR,             -- why this model qualifies, was picked or not; for the step's outcome see selected rows
    kappa DOUBLE,               -- the step's Cohen's kappa (correct/error) over doubly judged samples (NULL: none)
    decided_at TIMESTAMP,
    approved BOOLEAN,           -- a lead approved this pick (the review DAG's ApprovalOperator); stages then serve it
    approved_by VARCHAR,        -- the Airflow user who answered the approval
    approved_at TIMESTAMP,
    run_id VARCHAR
);
