-- Corpus windows to search, scoped by subject (input of the near-duplicate search, jobs/dedup/neardup.py).
SELECT video_id, any_value(subject_id) AS subject_id, window_index, any_value(start_s) AS start_s,
       any_value(end_s) AS end_s, any_value(phash) AS phash, any_value(quality) AS quality,
       any_value(phash2) AS phash2
FROM window_hashes
WHERE phash IS NOT NULL AND ($all_subjects OR subject_id IN (SELECT unnest($subjects::VARCHAR[])))
GROUP BY video_id, window_index
