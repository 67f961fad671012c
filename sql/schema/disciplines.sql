-- table: disciplines
-- key: discipline_id
-- doc: The 4 top-level disciplines of the knowledge bank (Natural Sciences, Healthcare, ...).
CREATE TABLE IF NOT EXISTS disciplines (
    discipline_id VARCHAR,   -- slug of the name, e.g. natural-sciences
    name VARCHAR,
    run_id VARCHAR           -- the stage run that wrote this row
);
