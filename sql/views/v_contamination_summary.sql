-- view: v_contamination_summary
-- doc: Contaminated corpus videos per benchmark and method, and the verified examples they take out of the dataset.
CREATE OR REPLACE VIEW v_contamination_summary AS
SELECT c.benchmark, c.method, count(DISTINCT c.video_id) AS videos,
       (SELECT count(*) FROM verified_qa q WHERE q.video_id IN
            (SELECT video_id FROM contamination c2 WHERE c2.benchmark = c.benchmark AND c2.method = c.method))
           AS verified_examples_excluded
FROM contamination c
GROUP BY c.benchmark, c.method
ORDER BY c.benchmark, c.method;
