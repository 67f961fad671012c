-- table: benchmark_items
-- key: benchmark, item_id
-- scope: benchmark
-- doc: Evaluation benchmark items (MMVU, VideoMMMU, ...) with the YouTube ids of their videos, for decontamination.
CREATE TABLE IF NOT EXISTS benchmark_items (
    benchmark VARCHAR,       -- mmvu | videommmu | <name of a generic JSON/JSONL manifest>
    item_id VARCHAR,         -- unique within the benchmark, e.g. validation_0, Perception/dev_Biology_3
    track VARCHAR,           -- sub-set of the benchmark (VideoMMMU: Perception | Comprehension | Adaptation)
    source_id VARCHAR,       -- the id as written in the source file
    url VARCHAR,             -- the video URL as written in the source file (messy: spaces, &t=, &list=, ...)
    youtube_id VARCHAR,      -- 11-character id parsed from url (jobs.decontaminate.youtube_id), NULL if none
    youtube_ids VARCHAR[],   -- every id found in url (a few source URLs hold two concatenated links)
    question VARCHAR,
    question_type VARCHAR,   -- multiple-choice | open-ended (as the benchmark says)
    options VARCHAR[],
    answer VARCHAR,
    subject VARCHAR,
    source_file VARCHAR,     -- manifest file the item came from
    run_id VARCHAR
);
