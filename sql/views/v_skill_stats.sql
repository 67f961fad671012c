-- view: v_skill_stats
-- doc: Examples per skill (basic video reasoning, knowledge-enhanced perception, knowledge-intensive reasoning) and
--      split (split 'total' = both), with the share within the split.
CREATE OR REPLACE VIEW v_skill_stats AS
WITH c AS (
    SELECT coalesce(split, 'total') AS split, skill, count(*) AS examples
    FROM v_dataset_examples GROUP BY GROUPING SETS ((split, skill), (skill))
)
SELECT split, skill, examples, round(examples / sum(examples) OVER (PARTITION BY split), 4) AS share
FROM c ORDER BY split, skill;
