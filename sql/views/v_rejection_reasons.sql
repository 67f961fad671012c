-- view: v_rejection_reasons
-- doc: Every failed (or not computable) check of every rejected candidate, with the candidate's subject, skill and type.
--      e.g. SELECT check_name, outcome, count(*) FROM v_rejection_reasons GROUP BY ALL
CREATE OR REPLACE VIEW v_rejection_reasons AS
SELECT c.subject_id, c.kp_id, c.video_id, c.candidate_id, c.skill, c.problem_type,
       k.check_name,
       CASE WHEN k.passed IS NULL THEN 'error' ELSE 'failed' END AS outcome,
       k.score, k.details, k.model, k.call_id, k.run_id
FROM checks k
JOIN candidates c ON c.candidate_id = k.candidate_id
WHERE k.passed IS NOT TRUE;
