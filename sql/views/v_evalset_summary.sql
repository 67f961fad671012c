-- view: v_evalset_summary
-- doc: Per source benchmark: fetched items checked for video dependency, kept, sent to re-annotation, re-annotated, dropped, still pending, check errors, and the size of the curated set (eval_items).
CREATE OR REPLACE VIEW v_evalset_summary AS
WITH c AS (
    SELECT c.source_benchmark, c.item_id, c.vd_passed, r.action
    FROM eval_candidates c LEFT JOIN review_reannotations r USING (item_id)
), e AS (
    SELECT source_benchmark, count(*) AS n FROM eval_items GROUP BY source_benchmark
)
SELECT c.source_benchmark,
       count(*) AS checked,
       count(*) FILTER (WHERE vd_passed) AS kept,
       count(*) FILTER (WHERE NOT vd_passed) AS to_reannotate,
       count(*) FILTER (WHERE NOT vd_passed AND action = 'rewrite') AS reannotated,
       count(*) FILTER (WHERE NOT vd_passed AND action = 'drop') AS dropped,
       count(*) FILTER (WHERE NOT vd_passed AND action IS NULL) AS pending,
       count(*) FILTER (WHERE vd_passed IS NULL) AS errors,
       coalesce(any_value(e.n), 0) AS eval_items
FROM c LEFT JOIN e ON e.source_benchmark = c.source_benchmark
GROUP BY c.source_benchmark ORDER BY c.source_benchmark;
