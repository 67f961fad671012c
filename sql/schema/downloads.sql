-- table: downloads
-- key: video_id
-- scope: subject_id
-- doc: Media downloads (yt-dlp or the sample library): mp4 and WebVTT paths under $VIDEOKR_HOME/media.
CREATE TABLE IF NOT EXISTS downloads (
    video_id VARCHAR,
    subject_id VARCHAR,
    path VARCHAR,            -- the mp4, NULL when the download failed
    captions_path VARCHAR,   -- the WebVTT file, NULL when none
    bytes UBIGINT,
    status VARCHAR,          -- ok | failed | invalid_id
    error VARCHAR,
    downloader VARCHAR,      -- ytdlp | sample
    run_id VARCHAR
);
