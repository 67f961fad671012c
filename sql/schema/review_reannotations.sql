-- table: review_reannotations
-- key: item_id
-- doc: Experts' answers to re-annotation tasks (review page, /review/reannotate): a video-grounded rewrite of a benchmark item the video-dependency check found answerable without the video, or a drop. One per item (a later answer replaces it); reviewer is the Airflow user of the token, never a form field.
CREATE TABLE IF NOT EXISTS review_reannotations (
    item_id VARCHAR,            -- eval_candidates.item_id
    task_id VARCHAR,            -- eval_candidates.task_id
    action VARCHAR,             -- rewrite | drop
    problem_type VARCHAR,       -- rewrite: multiple choice | open-ended
    question VARCHAR,           -- rewrite: the new question, grounded in the video
    options VARCHAR[],          -- rewrite, multiple choice: ["A. ...", ...]
    answer VARCHAR,             -- rewrite: the option letter, or the reference text
    note VARCHAR,
    reviewer VARCHAR,           -- Airflow username from the validated JWT
    annotated_at TIMESTAMP,
    run_id VARCHAR              -- review-page-<time>-<hex> per submission
);
