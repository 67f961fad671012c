-- view: v_screening_reasons
-- doc: Videos kept, rejected and pending (a check not made yet, retried next run) per stage and reason (collect filters on `videos`, screen checks on `screening`).
CREATE OR REPLACE VIEW v_screening_reasons AS
WITH r AS (
    SELECT subject_id, 'collect' AS stage, 'reject' AS decision, reject_reason AS reason
    FROM videos WHERE NOT eligible
    UNION ALL
    SELECT subject_id, 'screen', decision, unnest(reasons) FROM screening WHERE decision IN ('reject', 'pending')
    UNION ALL
    SELECT subject_id, 'screen', 'keep', 'kept' FROM screening WHERE decision = 'keep'
)
SELECT subject_id, stage, decision, reason, count(*) AS videos
FROM r GROUP BY ALL ORDER BY subject_id, stage, decision DESC, reason;
