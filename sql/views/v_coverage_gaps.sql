-- view: v_coverage_gaps
-- doc: Subjects of the knowledge bank with no example in the dataset (coverage gaps), with the pipeline funnel that
--      lost them (knowledge points, videos found, eligible, kept by screening, candidates, verified, released) and
--      the first step that came up empty. The dataset card lists them.
CREATE OR REPLACE VIEW v_coverage_gaps AS
WITH funnel AS (
    SELECT su.subject_id, coalesce(su.name, su.subject_id) AS subject,
           coalesce(di.name, su.discipline_id) AS discipline, su.position,
           (SELECT count(*) FROM knowledge_points k WHERE k.subject_id = su.subject_id) AS knowledge_points,
           (SELECT count(*) FROM videos v WHERE v.subject_id = su.subject_id) AS videos_found,
           (SELECT count(*) FROM videos v WHERE v.subject_id = su.subject_id AND v.eligible) AS videos_eligible,
           (SELECT count(*) FROM screening s WHERE s.subject_id = su.subject_id AND s.decision = 'keep')
               AS videos_kept,
           (SELECT count(*) FROM candidates c WHERE c.subject_id = su.subject_id) AS candidates,
           (SELECT count(*) FROM verified_qa q WHERE q.subject_id = su.subject_id) AS verified,
           -- released examples, as v_dataset_examples counts them (views are created in name order)
           (SELECT count(*) FROM verified_qa q JOIN splits sp ON sp.video_id = q.video_id
            WHERE q.subject_id = su.subject_id
              AND q.video_id NOT IN (SELECT video_id FROM contamination WHERE video_id IS NOT NULL)) AS examples
    FROM subjects su
    LEFT JOIN disciplines di ON di.discipline_id = su.discipline_id
)
SELECT discipline, subject_id, subject, knowledge_points, videos_found, videos_eligible, videos_kept, candidates,
       verified, examples,
       CASE WHEN knowledge_points = 0 THEN 'no knowledge points'
            WHEN videos_found = 0 THEN 'no videos found'
            WHEN videos_eligible = 0 THEN 'no eligible video (license, length, captions)'
            WHEN videos_kept = 0 THEN 'no video kept by screening'
            WHEN candidates = 0 THEN 'no question generated'
            WHEN verified = 0 THEN 'no question verified'
            ELSE 'not released (contaminated or not split)' END AS lost_at
FROM funnel
WHERE examples = 0
ORDER BY discipline, position, subject_id;
