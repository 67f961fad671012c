-- Windows that may count as near-duplicate evidence, from {src} (window rows with start_s, end_s, quality):
-- informative ones (quality >= {q_min}: blank, uniform and faded-out windows all hash alike, see
-- jobs/media/phash.py quality_from_small; NULL = hashed before quality existed) at least {min_len_s} long (the
-- stub a video's last window can be hashes a few frames only).
SELECT * FROM {src} WHERE coalesce(quality, 100) >= {q_min} AND end_s - start_s >= {min_len_s}
