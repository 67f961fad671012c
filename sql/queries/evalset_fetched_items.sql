-- Benchmark items whose video `videokr benchmarks fetch` has on disk (status ok): the inputs of `videokr evalset
-- build`. An item with several YouTube ids uses the first one that was fetched.
SELECT i.benchmark, i.item_id, i.question, i.question_type, i.options, i.answer, i.subject,
       v.video_id, v.path
FROM benchmark_items i
JOIN benchmark_videos v
  ON v.benchmark = i.benchmark AND list_contains(coalesce(i.youtube_ids, [i.youtube_id]), v.video_id)
WHERE v.status = 'ok' AND v.path IS NOT NULL
QUALIFY row_number() OVER (PARTITION BY i.benchmark, i.item_id
                           ORDER BY list_position(coalesce(i.youtube_ids, [i.youtube_id]), v.video_id)) = 1
ORDER BY i.benchmark, i.item_id;
