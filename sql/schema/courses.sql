-- table: courses
-- key: course_id
-- scope: subject_id
-- doc: Courses within a subject.
CREATE TABLE IF NOT EXISTS courses (
    course_id VARCHAR,       -- <subject_id>/<course slug>
    subject_id VARCHAR,
    name VARCHAR,
    position INTEGER,
    run_id VARCHAR
);
