-- table: llm_calls
-- key: call_id
-- doc: Ledger of model calls (one row per logical call): role, model, prompt version, tokens, cost, latency, status, cache hit.
-- call_id: unique per payment, so the ledger is appended without reading it: '<hash>.<nonce>' for a paid call,
--          '<hash>!<nonce>' for a call that failed (error or malformed after all retries). Cache hits cost nothing
--          and are not rows. Generated rows (candidates, checks) store the bare hash: join them on request_key.
CREATE TABLE IF NOT EXISTS llm_calls (
    call_id VARCHAR,
    request_key VARCHAR,      -- the bare content hash (= cache key, = Batch API custom_id)
    role VARCHAR,             -- generator | solver | blind_solver | cot_validator | relevance_judge | judge
    backend VARCHAR,          -- offline | openai | azure
    model VARCHAR,
    prompt_version VARCHAR,
    task VARCHAR,             -- generate_qa | solve | validate_cot | judge_relevance | expand_kb ...
    via_batch BOOLEAN,        -- served by the Batch API
    tokens_in BIGINT,         -- summed over all attempts that reached the model (estimated for the offline model)
    tokens_out BIGINT,
    cost_usd DOUBLE,          -- from [llm.prices."<model>"]; 0 for cache hits and unpriced models
    latency_ms DOUBLE,        -- wall time of the call including retries and waits
    attempts INTEGER,         -- HTTP attempts (transport retries plus malformed-reply retries)
    status VARCHAR,           -- ok | error | malformed
    cache_hit BOOLEAN,
    error VARCHAR,
    created_at TIMESTAMP,
    run_id VARCHAR
);
