-- view: v_coverage_gaps
-- doc: Subjects of the knowledge bank with no example in the dataset (coverage gaps), with the pipeline funnel that
--      lost them (knowledge points, videos found, eligible, kept by screening, candidates, verified, released) and
--      the first step that came up empty. The dataset card lists them.
-- Each table is counted once per subject (GROUP BY, no correlated subqueries): a table scan on a DuckLake catalog
-- costs catalog round trips whatever its size, and a per-subject subquery would scan again.
CREATE OR REPLACE VIEW v_coverage_gaps AS
WITH kp AS (
    SELECT subject_id, count(*) AS n FROM knowledge_points GROUP BY subject_id
), vids AS (
    SELECT subject_id, count(*) AS found, count(*) FILTER (WHERE eligible) AS eligible FROM videos GROUP BY subject_id
), kept AS (
    SELECT subject_id, count(*) AS n FROM screening WHERE decision = 'keep' GROUP BY subject_id
), cands AS (
    SELECT subject_id, count(*) AS n FROM candidates GROUP BY subject_id
), ver AS (
    -- released examples, as v_dataset_examples counts them (verified, split, not contaminated)
    SELECT q.subject_id, count(*) AS verified,
           count(*) FILTER (WHERE sp.video_id IS NOT NULL AND q.video_id NOT IN
                            (SELECT video_id FROM contamination WHERE video_id IS NOT NULL)) AS examples
    FROM verified_qa q LEFT JOIN (SELECT DISTINCT video_id FROM splits) sp ON sp.video_id = q.video_id
    GROUP BY q.subject_id
), funnel AS (
    SELECT su.subject_id, coalesce(su.name, su.subject_id) AS subject,
           coalesce(di.name, su.discipline_id) AS discipline, su.position,
           coalesce(kp.n, 0) AS knowledge_points, coalesce(vids.found, 0) AS videos_found,
           coalesce(vids.eligible, 0) AS videos_eligible, coalesce(kept.n, 0) AS videos_kept,
           coalesce(cands.n, 0) AS candidates, coalesce(ver.verified, 0) AS verified,
           coalesce(ver.examples, 0) AS examples
    FROM subjects su
    LEFT JOIN disciplines di ON di.discipline_id = su.discipline_id
    LEFT JOIN kp ON kp.subject_id = su.subject_id
    LEFT JOIN vids ON vids.subject_id = su.subject_id
    LEFT JOIN kept ON kept.subject_id = su.subject_id
    LEFT JOIN cands ON cands.subject_id = su.subject_id
    LEFT JOIN ver ON ver.subject_id = su.subject_id
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
