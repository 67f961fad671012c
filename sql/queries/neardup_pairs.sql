-- Seeds of near-duplicate matches: (corpus video, benchmark video, time offset) where some corpus window and some
-- benchmark window agree on one whole band of bits of one of their two hashes and are within distance $t.
-- Inputs (relations the caller provides, low-information windows already left out):
--   _corpus_windows(video_id, window_index, start_s, phash, phash2 UBIGINT): the fixed 20-s grid;
--   _bench_windows(benchmark, bench_video_id, item_id, window_index, start_s, phash, phash2 UBIGINT): windows
--   starting every second, so a copy's window has a benchmark window within 0.5 s of alignment at any time shift.
-- Each 64-bit hash (the window's halves, jobs/media/windows.py) is cut into a few wide bands (NearDupParams.bands);
-- one equi-join per band. Two hashes d bits apart share a given band of w bits with probability ~ (1 - d/64)^w,
-- so a copy, whose every aligned window is close, is seeded by some window with near certainty, while the join
-- stays small (random hashes collide on a w-bit band with probability 2^-w). Exact distances are then computed
-- for every window of a seeded pair at its offset (neardup_sequences.sql), so recall does not hinge on one band.
-- Offsets are whole seconds (benchmark windows start on whole seconds): corpus start - benchmark start, rounded.
-- The band_joins placeholder is filled by jobs/dedup/neardup.py with one copy of neardup_band.sql per band.
SELECT DISTINCT video_id, benchmark, bench_video_id, round(start_s - bench_start_s)::DOUBLE AS offset_s
FROM ({band_joins}) AS banded
