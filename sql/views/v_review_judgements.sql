-- view: v_review_judgements
-- doc: Every verdict with its sample's step and model, e.g. error kinds per model:
--      SELECT step, model, kind, count(*) FROM v_review_judgements WHERE verdict = 'error' GROUP BY ALL
CREATE OR REPLACE VIEW v_review_judgements AS
SELECT s.step, s.model, s.sample_id, s.item_id, s.stratum, v.reviewer, v.verdict, v.kind, v.note, v.judged_at
FROM review_verdicts v
JOIN review_samples s ON s.sample_id = v.sample_id;
