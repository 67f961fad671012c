-- table: model_frames
-- key: video_id, budget_frames, max_fps
-- scope: video_id
-- doc: The instants (seconds) at which every model sees a kept video, per frame budget: generation, verification, export, training and evaluation decode exactly these frames (jobs/media/model_frames.py).
CREATE TABLE IF NOT EXISTS model_frames (
    video_id VARCHAR,
    subject_id VARCHAR,
    sha256 VARCHAR,          -- the file the instants were chosen on (video_files.sha256)
    budget_frames INTEGER,   -- at most this many frames ...
    max_fps DOUBLE,          -- ... and at most this many per second
    timestamps DOUBLE[],     -- chosen instants, seconds from the first frame, ascending
    run_id VARCHAR
);
