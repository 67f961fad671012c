-- migration: verified_qa_think_lengths
-- doc: Rationale lengths of verified_qa rows written before they were computed at write time (warehouse/derived.py),
--      so the dataset views read think_words / think_steps and never the rationale text. Runs once per warehouse.
UPDATE verified_qa
SET think_words = len(regexp_split_to_array(trim(coalesce(think, '')), '\s+')),
    think_steps = len(list_filter(string_split(coalesce(think, ''), chr(10)), x -> trim(x) <> ''))
WHERE think_words IS NULL OR think_steps IS NULL;
