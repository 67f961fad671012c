-- view: v_question_type_stats
-- doc: Multiple-choice vs open-ended examples per split (split 'total' = both), with the share within the split.
CREATE OR REPLACE VIEW v_question_type_stats AS
WITH c AS (
    SELECT coalesce(split, 'total') AS split, problem_type, count(*) AS examples
    FROM v_dataset_examples GROUP BY GROUPING SETS ((split, problem_type), (problem_type))
)
SELECT split, problem_type, examples, round(examples / sum(examples) OVER (PARTITION BY split), 4) AS share
FROM c ORDER BY split, problem_type;
