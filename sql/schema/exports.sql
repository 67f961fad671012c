-- table: exports
-- key: export_id
-- doc: One row per dataset export (videokr | llamafactory | verl | trl): folder, snapshot read, split seed, files, rows; run_id -> runs for when.
CREATE TABLE IF NOT EXISTS exports (
    export_id VARCHAR,       -- <format>-snap<snapshot>-seed<seed>-<scope>[-abs]: the folder name under the output dir
    format VARCHAR,
    out_dir VARCHAR,
    snapshot_id BIGINT,      -- warehouse snapshot the rows were read at
    seed BIGINT,             -- split seed
    rows_json VARCHAR,       -- JSON {file: rows}
    files_json VARCHAR,      -- JSON {file: sha256}
    manifest_sha256 VARCHAR,
    run_id VARCHAR
);
