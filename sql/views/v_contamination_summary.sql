-- view: v_contamination_summary
-- doc: Contaminated corpus videos per benchmark and method, and the verified examples they take out of the dataset.
-- verified_qa is scanned once (a join, no per-group subquery).
CREATE OR REPLACE VIEW v_contamination_summary AS
WITH cv AS MATERIALIZED (
    SELECT DISTINCT benchmark, method, video_id FROM contamination
), per_video AS (
    SELECT video_id, count(*) AS n FROM verified_qa
    WHERE video_id IN (SELECT video_id FROM cv) GROUP BY video_id
)
SELECT cv.benchmark, cv.method, count(cv.video_id) AS videos, coalesce(sum(p.n), 0)::BIGINT AS verified_examples_excluded
FROM cv LEFT JOIN per_video p ON p.video_id = cv.video_id
GROUP BY cv.benchmark, cv.method
ORDER BY cv.benchmark, cv.method;
