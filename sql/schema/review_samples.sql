-- table: review_samples
-- key: sample_id
-- scope: step
-- doc: Pilot outputs for expert review: one row per (step, candidate model, input item); every model of a step runs on the same stratified items (jobs/review/samples.py).
CREATE TABLE IF NOT EXISTS review_samples (
    sample_id VARCHAR,          -- rs-<16 hex of sha256(step, model, item_id)>: reveals nothing about the model
    step VARCHAR,               -- keyword_expansion | relevance_judging | qa_generation | solving | cot_validation
    model VARCHAR,              -- candidate name from [review] (hidden from reviewers)
    item_id VARCHAR,            -- the input item (a knowledge point, a video, a candidate); shared by the step's models
    stratum VARCHAR,            -- discipline / skill / question type the item was drawn from
    input VARCHAR,              -- JSON: knowledge_point, question, options, answer, captions_excerpt, video_id,
                                -- video_path; for relevance judging the video page (title, description, url, ...)
    output VARCHAR,             -- JSON: the model's output (answer, rationale / chain of thought, judgement, ...)
    video_id VARCHAR,
    video_path VARCHAR,         -- the file the frames are decoded from (NULL: no video for this step)
    frame_timestamps DOUBLE[],  -- instants (seconds) the model saw, as jobs/media/model_frames.py chose them
    call_id VARCHAR,            -- llm_calls.call_id of the call that produced the output
    created_at TIMESTAMP,
    run_id VARCHAR
);
