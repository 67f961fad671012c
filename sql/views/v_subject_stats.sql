-- view: v_subject_stats
-- doc: Examples and videos per subject (with its discipline) and split (split 'total' = both).
CREATE OR REPLACE VIEW v_subject_stats AS
SELECT discipline, subject_id, subject, coalesce(split, 'total') AS split, count(*) AS examples,
       count(DISTINCT video_id) AS videos
FROM v_dataset_examples
GROUP BY GROUPING SETS ((discipline, subject_id, subject, split), (discipline, subject_id, subject))
ORDER BY discipline, subject, split;
