-- table: knowledge_points
-- key: kp_id
-- scope: subject_id
-- doc: Knowledge points: the leaves of the bank, each with a correct statement and search keywords.
CREATE TABLE IF NOT EXISTS knowledge_points (
    kp_id VARCHAR,           -- kp-<12 hex of sha1(subject/course/lecture/name)>, stable across reloads
    lecture_id VARCHAR,
    course_id VARCHAR,
    subject_id VARCHAR,
    discipline_id VARCHAR,
    name VARCHAR,
    statement VARCHAR,       -- short, correct statement of the principle
    keywords VARCHAR[],      -- search keywords for video collection
    position INTEGER,
    run_id VARCHAR
);
