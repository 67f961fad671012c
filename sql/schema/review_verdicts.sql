-- table: review_verdicts
-- key: sample_id, reviewer
-- doc: Expert verdicts on review_samples, one per sample and reviewer (a re-judgement replaces it); reviewer is the Airflow user of the token, never a form field.
CREATE TABLE IF NOT EXISTS review_verdicts (
    sample_id VARCHAR,          -- review_samples.sample_id
    reviewer VARCHAR,           -- Airflow username from the validated JWT
    verdict VARCHAR,            -- correct | error
    kind VARCHAR,               -- for errors: wrong_answer | unsupported_step | ambiguous |
                                -- answerable_without_video | unsafe | other; NULL when correct
    note VARCHAR,
    judged_at TIMESTAMP,
    run_id VARCHAR              -- review-page-<time>-<hex> per submission (a verdict is not a stage run)
);
