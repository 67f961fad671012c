-- table: eval_items
-- key: item_id
-- scope: source_benchmark
-- doc: The curated evaluation set (`videokr evalset build`), versioned by DuckLake snapshot: benchmark items that need the video (origin kept) and the experts' video-grounded re-annotations of those that did not (origin reannotated); exported as JSONL for train/evaluate.py.
CREATE TABLE IF NOT EXISTS eval_items (
    item_id VARCHAR,            -- eval_candidates.item_id (<source_benchmark>/<source item id>)
    source_benchmark VARCHAR,   -- the benchmark the item came from; evaluation reports per source benchmark
    source_item_id VARCHAR,
    origin VARCHAR,             -- kept (passed the video-dependency check) | reannotated (an expert rewrote it)
    problem_type VARCHAR,       -- multiple choice | open-ended
    question VARCHAR,
    options VARCHAR[],          -- ["A. ...", ...]; empty for open-ended
    answer VARCHAR,             -- the letter for multiple choice, the reference text for open-ended
    subject VARCHAR,
    video_id VARCHAR,
    video_path VARCHAR,
    original_question VARCHAR,  -- the benchmark's question when reannotated, else NULL
    annotated_by VARCHAR,       -- the Airflow user who re-annotated it, else NULL
    run_id VARCHAR              -- the build that first wrote this version of the row
);
