-- check: contaminated_not_split
-- doc: No contaminated video has a split (so none of its examples can be exported). Rows returned = violations.
SELECT s.video_id, s.subject_id, s.split, c.benchmark, c.method
FROM splits s JOIN contamination c ON c.video_id = s.video_id;
