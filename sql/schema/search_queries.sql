-- table: search_queries
-- key: query_id
-- scope: subject_id
-- doc: One YouTube search per knowledge point and keyword; status 'done' means it is never repeated.
CREATE TABLE IF NOT EXISTS search_queries (
    query_id VARCHAR,        -- q-<12 hex of sha1(kp_id/keyword)>
    kp_id VARCHAR,
    subject_id VARCHAR,
    keyword VARCHAR,         -- the search text sent to search.list
    source VARCHAR,          -- youtube | sample
    pages_fetched INTEGER,
    hits INTEGER,            -- video ids returned over all pages
    status VARCHAR,          -- done | partial (stopped by quota; resumes from next_page_token) | failed
    next_page_token VARCHAR, -- where a partial query resumes
    error VARCHAR,
    run_id VARCHAR
);
