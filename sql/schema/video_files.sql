-- table: video_files
-- key: video_id
-- scope: video_id
-- doc: One row per kept video file the frames stage probed: size, sha256, codec, geometry, frame rate, duration, frame count; status 'ok' or 'error' (with the error).
CREATE TABLE IF NOT EXISTS video_files (
    video_id VARCHAR,
    subject_id VARCHAR,
    path VARCHAR,            -- local path of the downloaded file
    bytes UBIGINT,           -- file size
    sha256 VARCHAR,          -- hex digest of the file bytes
    codec VARCHAR,           -- FFmpeg decoder name of the first video stream, e.g. h264
    width INTEGER,
    height INTEGER,
    fps DOUBLE,              -- average frame rate
    duration_s DOUBLE,       -- first frame to end of last frame, from the packet index
    frames BIGINT,           -- video packets (frames) in the stream
    status VARCHAR,          -- ok | error
    error VARCHAR,           -- 'reason: message' when status = 'error' (e.g. truncated_video: ...), else NULL
    run_id VARCHAR
);
