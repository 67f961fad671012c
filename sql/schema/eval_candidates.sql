-- table: eval_candidates
-- key: item_id
-- scope: source_benchmark
-- doc: Benchmark items whose video was fetched, with the outcome of the video-dependency check (the verify stage's own check, run by `videokr evalset build`): passed -> kept in eval_items; failed -> a re-annotation task on the review page; NULL -> the check's calls failed (quarantined, retried next build).
CREATE TABLE IF NOT EXISTS eval_candidates (
    item_id VARCHAR,            -- <source_benchmark>/<source item id>, e.g. mmvu/validation_0, sample/sample-bench-0/count
    task_id VARCHAR,            -- ra-<16 hex of sha256(item_id)>: the re-annotation task's id on the review page
    source_benchmark VARCHAR,   -- mmvu | videommmu | <generic manifest name> | sample (the embedded world)
    source_item_id VARCHAR,     -- benchmark_items.item_id
    problem_type VARCHAR,       -- multiple choice | open-ended
    question VARCHAR,
    options VARCHAR[],          -- ["A. ...", ...]; empty for open-ended
    answer VARCHAR,             -- the letter for multiple choice, the reference text for open-ended
    subject VARCHAR,
    video_id VARCHAR,           -- the fetched video (YouTube id; the sample world's id for its originals)
    video_path VARCHAR,         -- the mp4 the check and the evaluation decode
    duration_s DOUBLE,
    vd_passed BOOLEAN,          -- video dependency: true = needs the video; false = answerable from text + one frame
    vd_score DOUBLE,            -- 1 - blind correct / blind tries
    vd_details VARCHAR,         -- JSON: blind answers, correct count, frames (label, instant), frame_choice
    vd_model VARCHAR,           -- the blind solver's model
    vd_call_id VARCHAR,         -- llm_calls.call_id of its first call
    run_id VARCHAR
);
