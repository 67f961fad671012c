-- view: v_dataset_stats
-- doc: Headline statistics of the dataset per split and in total (the paper's Table: examples, videos, subjects,
--      knowledge points, multiple-choice vs open-ended share, average video length, rationale length).
--      SELECT * FROM v_dataset_stats
-- v_dataset_examples is read once (a materialized CTE): each of its table scans costs catalog round trips.
CREATE OR REPLACE VIEW v_dataset_stats AS
WITH ex AS MATERIALIZED (
    SELECT split, video_id, video_duration_s, subject_id, discipline_id, kp_id, problem_type, think_words,
           think_steps
    FROM v_dataset_examples
), per_video AS (
    SELECT coalesce(split, 'total') AS split, avg(video_duration_s) AS avg_video_s
    FROM (SELECT DISTINCT split, video_id, video_duration_s FROM ex)
    GROUP BY GROUPING SETS ((split), ())
), per_example AS (
    SELECT coalesce(split, 'total') AS split,
           count(*) AS examples,
           count(DISTINCT video_id) AS videos,
           count(DISTINCT subject_id) AS subjects,
           count(DISTINCT discipline_id) AS disciplines,
           count(DISTINCT kp_id) AS knowledge_points,
           count(*) FILTER (WHERE problem_type = 'multiple choice') AS multiple_choice,
           count(*) FILTER (WHERE problem_type = 'open-ended') AS open_ended,
           round(avg(think_words), 1) AS avg_rationale_words,
           round(avg(think_steps), 2) AS avg_rationale_steps
    FROM ex
    GROUP BY GROUPING SETS ((split), ())
)
SELECT e.split, e.examples, e.videos, e.subjects, e.disciplines, e.knowledge_points,
       e.multiple_choice, e.open_ended,
       round(e.multiple_choice / nullif(e.examples, 0), 4) AS multiple_choice_share,
       round(e.open_ended / nullif(e.examples, 0), 4) AS open_ended_share,
       round(v.avg_video_s, 1) AS avg_video_s,
       e.avg_rationale_words, e.avg_rationale_steps
FROM per_example e LEFT JOIN per_video v USING (split)
ORDER BY CASE e.split WHEN 'sft' THEN 0 WHEN 'rl' THEN 1 ELSE 2 END;
