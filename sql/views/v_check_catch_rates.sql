-- view: v_check_catch_rates
-- doc: How well each verification check catches the planted bad candidates (planted_items) and how often it rejects
--      clean ones. One row per (kind, check): kind is a planted kind, or 'clean' for candidates with no plant;
--      candidates = candidates the check ran on, caught = those it failed (passed = false); rate = caught / candidates
--      is the catch rate for a planted kind (measure 'catch_rate') and the false-rejection rate for 'clean'.
--      intended: the check is the one meant to catch that kind. Early exit runs later checks only on survivors, so
--      for every check on every candidate run verify with early_exit = false.
--      e.g. SELECT * FROM v_check_catch_rates WHERE intended OR kind = 'clean'
CREATE OR REPLACE VIEW v_check_catch_rates AS
WITH cand AS (
    SELECT c.candidate_id, coalesce(p.kind, 'clean') AS kind, p.expected_check
    FROM candidates c
    LEFT JOIN planted_items p ON p.video_id = c.video_id AND p.question = c.question
)
SELECT cand.kind,
       k.check_name,
       CASE WHEN cand.kind = 'clean' THEN 'false_rejection_rate' ELSE 'catch_rate' END AS measure,
       coalesce(k.check_name = any_value(cand.expected_check), false) AS intended,
       count(*) AS candidates,
       count(*) FILTER (WHERE k.passed = false) AS caught,
       count(*) FILTER (WHERE k.passed IS NULL) AS errors,
       round(count(*) FILTER (WHERE k.passed = false) / count(*), 4) AS rate
FROM checks k
JOIN cand ON cand.candidate_id = k.candidate_id
GROUP BY cand.kind, k.check_name
ORDER BY cand.kind = 'clean', cand.kind, k.check_name;
