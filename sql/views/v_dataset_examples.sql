-- view: v_dataset_examples
-- doc: The dataset as released: one row per verified example of a split (hence uncontaminated) video, with its
--      split, subject and discipline names, video length and rationale length. Base of the dataset-card views.
CREATE OR REPLACE VIEW v_dataset_examples AS
SELECT q.candidate_id AS problem_id, q.video_id, q.kp_id, q.subject_id,
       coalesce(su.name, q.subject_id) AS subject, su.discipline_id,
       coalesce(di.name, su.discipline_id) AS discipline,
       s.split, q.skill, q.problem_type,
       coalesce(vf.duration_s, v.duration_s) AS video_duration_s,
       q.think_words::BIGINT AS think_words, q.think_steps::BIGINT AS think_steps  -- written with the row (warehouse/derived.py)
FROM verified_qa q
JOIN splits s ON s.video_id = q.video_id
LEFT JOIN videos v ON v.video_id = q.video_id
LEFT JOIN video_files vf ON vf.video_id = q.video_id
LEFT JOIN subjects su ON su.subject_id = q.subject_id
LEFT JOIN disciplines di ON di.discipline_id = su.discipline_id
WHERE q.video_id NOT IN (SELECT video_id FROM contamination WHERE video_id IS NOT NULL);
