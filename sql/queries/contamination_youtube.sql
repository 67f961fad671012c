-- YouTube-ID matching: corpus videos whose id is the video of a benchmark item.
-- $subjects: subject ids to check; $all_subjects: TRUE to check every video.
SELECT v.video_id, v.subject_id, b.benchmark, b.item_id AS matched_item, 'youtube_id' AS method,
       1.0::DOUBLE AS score, NULL::INTEGER AS windows_matched, NULL::DOUBLE AS offset_s, NULL::DOUBLE AS mean_distance
FROM videos v
JOIN (SELECT benchmark, item_id, unnest(coalesce(youtube_ids, [youtube_id])) AS yid
      FROM benchmark_items) b ON v.video_id = b.yid
WHERE $all_subjects OR v.subject_id IN (SELECT unnest($subjects::VARCHAR[]))
ORDER BY v.video_id, b.benchmark, b.item_id
