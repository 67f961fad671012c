-- table: lectures
-- key: lecture_id
-- scope: subject_id
-- doc: Lectures within a course.
CREATE TABLE IF NOT EXISTS lectures (
    lecture_id VARCHAR,      -- <course_id>/<lecture slug>
    course_id VARCHAR,
    subject_id VARCHAR,
    name VARCHAR,
    position INTEGER,
    run_id VARCHAR
);
