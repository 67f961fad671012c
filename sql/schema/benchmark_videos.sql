-- table: benchmark_videos
-- key: benchmark, video_id
-- scope: benchmark
-- doc: Fetch state of evaluation benchmark videos (`videokr benchmarks fetch`): one row per benchmark and YouTube id, with the file under $VIDEOKR_HOME/benchmarks/<benchmark>/ or why it could not be had.
CREATE TABLE IF NOT EXISTS benchmark_videos (
    benchmark VARCHAR,       -- mmvu | videommmu | <name of a generic manifest, e.g. scivideobench>
    video_id VARCHAR,        -- 11-character YouTube id, validated (jobs/dedup/youtube_ids.py, jobs/sources/ytdlp.py)
    item_ids VARCHAR[],      -- benchmark_items.item_id of the items that use this video
    url VARCHAR,             -- the URL as written in the first item's manifest entry
    path VARCHAR,            -- the mp4 (<video_dir>/<benchmark>/<video_id>/<video_id>.mp4), NULL unless status = ok
    status VARCHAR,          -- ok | missing (the video is gone for us: removed, private, blocked, ...) | failed (transient: network, bot check, 429); a rerun retries missing and failed
    reason VARCHAR,          -- NULL when ok; removed | private | blocked | age_restricted | not_found | unavailable | invalid_id | bot_check | rate_limited | network | error
    error VARCHAR,           -- yt-dlp's message, NULL when ok
    bytes UBIGINT,           -- size of the mp4
    attempts INTEGER,        -- downloads tried so far
    fetched_at TIMESTAMP,    -- when the last attempt finished (UTC)
    downloader VARCHAR,      -- ytdlp
    run_id VARCHAR
);
