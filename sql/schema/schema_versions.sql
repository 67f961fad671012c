-- table: schema_versions
-- key: object
-- doc: Bookkeeping: the sha256 of each analyst view's SQL file as last applied (views are recreated when it changes), and each data migration of sql/migrations/ already run.
CREATE TABLE IF NOT EXISTS schema_versions (
    object VARCHAR,          -- e.g. view:v_dataset_stats, migration:verified_qa_think_lengths
    sha256 VARCHAR,
    run_id VARCHAR
);
