-- The curated evaluation set from eval_candidates and the experts' re-annotations: items that need the video
-- (origin kept), and the rewrites of those that did not (origin reannotated). A drop, or no answer yet, leaves
-- the item out; so does a check that errored (vd_passed NULL, retried next build).
SELECT c.item_id, c.source_benchmark, c.source_item_id,
       CASE WHEN c.vd_passed THEN 'kept' ELSE 'reannotated' END AS origin,
       CASE WHEN c.vd_passed THEN c.problem_type ELSE r.problem_type END AS problem_type,
       CASE WHEN c.vd_passed THEN c.question ELSE r.question END AS question,
       CASE WHEN c.vd_passed THEN c.options ELSE coalesce(r.options, []) END AS options,
       CASE WHEN c.vd_passed THEN c.answer ELSE r.answer END AS answer,
       c.subject, c.video_id, c.video_path,
       CASE WHEN c.vd_passed THEN NULL ELSE c.question END AS original_question,
       CASE WHEN c.vd_passed THEN NULL ELSE r.reviewer END AS annotated_by
FROM eval_candidates c LEFT JOIN review_reannotations r USING (item_id)
WHERE c.vd_passed OR (NOT c.vd_passed AND r.action = 'rewrite')
ORDER BY c.item_id;
