-- table: planted_items
-- key: video_id, question
-- doc: Ground truth for measuring the verification checks (sample world only): each question the generator
--      stand-in was planted to get wrong, the kind of mistake, and the check meant to catch it. Written by the
--      generate stage when search_source = 'sample' and the generator is the offline stand-in; no check reads it.
CREATE TABLE IF NOT EXISTS planted_items (
    video_id VARCHAR,
    question VARCHAR,        -- the question as the generator writes it (joins candidates on video_id, question)
    kind VARCHAR,            -- answerable_from_text | answerable_from_one_frame | self_contradictory |
                             -- ungrounded_step | mislabelled_answer | ambiguous
    expected_check VARCHAR,  -- video_dependency | cot_validation | self_consistency
    fact_id VARCHAR,         -- the scene fact it is about
    run_id VARCHAR
);
