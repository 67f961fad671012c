-- view: v_discipline_stats
-- doc: Examples and videos per discipline and split (split 'total' = both).
CREATE OR REPLACE VIEW v_discipline_stats AS
SELECT discipline, coalesce(split, 'total') AS split, count(*) AS examples, count(DISTINCT video_id) AS videos,
       count(DISTINCT subject_id) AS subjects
FROM v_dataset_examples
GROUP BY GROUPING SETS ((discipline, split), (discipline))
ORDER BY discipline, split;
