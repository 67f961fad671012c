-- table: runs
-- key: run_id
-- doc: One row per stage run: scope, params, timing, rows written per table, the snapshot it produced, status.
CREATE TABLE IF NOT EXISTS runs (
    run_id VARCHAR,
    stage VARCHAR,
    scope VARCHAR,           -- JSON, e.g. {"subjects": ["physics"]}; {} means everything
    params VARCHAR,          -- JSON
    started TIMESTAMP,
    finished TIMESTAMP,
    rows_written VARCHAR,    -- JSON {table: rows inserted or changed}
    snapshot_id BIGINT,      -- DuckLake snapshot after the run's last write
    status VARCHAR,          -- running | success | failed (a killed run is marked failed by the stage's next run)
    error VARCHAR,
    host VARCHAR,            -- the machine and process that ran it (to tell a killed run from a live one)
    pid INTEGER
);
