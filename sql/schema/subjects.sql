-- table: subjects
-- key: subject_id
-- scope: subject_id
-- doc: Subjects (e.g. Physics), each in one discipline. subject_id is the slug curators pass as subjects=[...].
CREATE TABLE IF NOT EXISTS subjects (
    subject_id VARCHAR,      -- slug of the subject name, unique across the bank
    discipline_id VARCHAR,
    name VARCHAR,
    position INTEGER,        -- order within the knowledge-bank file
    run_id VARCHAR
);
