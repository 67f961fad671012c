"""Near-duplicate decontamination on the transformation set (tests/neardup_world.py): every transformed, shifted copy
of a benchmark lecture is caught and no same-template negative is flagged, at the default parameters.

In memory: 12 benchmark lectures, 30 copies (3 of each transform kind, shifts 0-19 s), 100 negatives, hashed through
jobs.media.windows (the PHasher code decoded files take). On files: a few originals, copies and negatives encoded
with libx264 and run through the decode path and the decontaminate stage (evidence, view, card counts).
"""
from __future__ import annotations

import json

import duckdb
import polars as pl
import pytest

from jobs import decontaminate
from jobs.dedup.neardup import NearDupParams, near_duplicates
from jobs.media.windows import sliding_window_hashes_for, window_hashes_for
from tests import neardup_world as nw


@pytest.fixture(scope="module")
def world():
    w = nw.build(n_bench=12, n_copies=30, n_negatives=100, seed=3)
    grids = {v.video_id: v.grid() for v in w.bench + w.copies + w.negatives}
    return w, grids


def _search(w, grids, p: NearDupParams):
    con = duckdb.connect()
    nw.load(con, nw.corpus_rows(w.copies + w.negatives, grids), nw.bench_rows(w.bench, grids))
    return near_duplicates(con, p)


def test_world_covers_every_transform_and_hard_negatives(world):
    w, grids = world
    assert len(w.copies) >= 30 and len(w.negatives) >= 100
    assert {c.tr.name for c in w.copies} == set(nw.KINDS)
    assert max(abs(c.tr.shift_s) for c in w.copies) > 10
    assert min(c.duration_s for c in w.copies if c.tr.name == "clip") < 60
    # negatives share their templates with the benchmark lectures, and some have black intros, title cards, fades
    assert {n.lec.tpl for n in w.negatives} <= {b.lec.tpl for b in w.bench} | {n.lec.tpl for n in w.negatives}
    assert len({n.lec.tpl for n in w.negatives} & {b.lec.tpl for b in w.bench}) >= 4
    kinds = [{k for _, _, k, _ in n.lec.segments} for n in w.negatives]
    assert sum("black" in k and "title" in k for k in kinds) >= 10 and sum(n.lec.fades for n in w.negatives) >= 5
    # blank windows score low quality; the slide windows high
    q = [x["quality"] for n in w.negatives for x in grids[n.video_id].fixed()]
    assert min(q) < NearDupParams().q_min <= sorted(q)[len(q) // 2]


def test_all_copies_caught_no_negative_flagged_at_defaults(world):
    w, grids = world
    found = _search(w, grids, NearDupParams())
    s = nw.score(found, w.copies, w.negatives)
    assert s["missed"] == [] and s["false"] == [] and s["wrong_original"] == []
    assert s["recall"] == 1.0
    # the offset found is the copy's time shift (whole seconds), and every match carries its windows as evidence
    by_video = {r["video_id"]: r for r in found.to_dicts()}
    for c in w.copies:
        r = by_video[c.video_id]
        # within a few seconds: a slide is static for 4-9 s, so a run 1-2 s beside the true offset can score as well
        assert abs(r["offset_s"] + c.tr.shift_s) <= 3.0, (c.video_id, r["offset_s"])
        assert len(r["evidence"]) == r["windows_matched"] >= NearDupParams().k
        assert all(e["distance"] <= NearDupParams().t for e in r["evidence"])


def test_k_windows_needed_also_for_short_clips(world):
    """A clip's two windows are needed: a 40-50 s clip has two full windows (its stub of < 10 s never counts), so
    with k = 3 it is no longer matched, with k = 2 it is."""
    w, grids = world
    p = NearDupParams()
    clips = {c.video_id for c in w.copies if c.tr.name == "clip" and c.duration_s < 40 + p.min_len_s}
    assert clips
    assert clips <= set(_search(w, grids, p)["video_id"].to_list())
    assert not set(_search(w, grids, NearDupParams(k=3))["video_id"].to_list()) & clips


def test_blank_windows_never_count(world):
    """Without the quality filter, black windows (all hashing alike) would be evidence: they are not with it."""
    w, grids = world
    black = nw.Video("black", nw.lecture(w.bench[0].lec.tpl, 1, 80.0, intro_s=80.0))
    bench_black = nw.Video("benchblack", nw.lecture(w.bench[0].lec.tpl, 2, 60.0, intro_s=60.0))
    con = duckdb.connect()
    nw.load(con, nw.corpus_rows([black]), nw.bench_rows([bench_black]))
    assert near_duplicates(con, NearDupParams()).is_empty()
    assert near_duplicates(con, NearDupParams(q_min=0)).height == 1


def test_encoded_files_through_decode_path_and_stage(settings, wh, tmp_path):
    """Real H.264 files: originals hashed into benchmark_windows by the stage (a window every second), corpus
    copies and negatives by window_hashes_for; contamination rows carry evidence; the view counts per benchmark."""
    w = nw.build(n_bench=3, n_copies=10, n_negatives=3, seed=11, duration_s=(60.0, 80.0))
    picked = [c for c in w.copies if c.tr.name in ("letterbox", "clip", "logo", "intro")]
    bench_videos = [{"benchmark": "lectures", "video_id": b.video_id, "item_id": f"item-{b.video_id}",
                     "path": str(b.encode(tmp_path / f"{b.video_id}.mp4"))} for b in w.bench]
    rows, videos = [], []
    for v in picked + w.negatives:
        path = v.encode(tmp_path / f"{v.video_id}.mp4", crf=34)
        rows += [{"video_id": v.video_id, "subject_id": "physics", **x} for x in window_hashes_for(path)]
        videos.append({"video_id": v.video_id, "subject_id": "physics", "kp_id": "kp-x"})
    assert {"quality", "phash", "phash2", "frame_count"} <= set(rows[0])
    sliding = sliding_window_hashes_for(bench_videos[0]["path"])
    assert [x["start_s"] for x in sliding[:3]] == [0.0, 1.0, 2.0]
    wh.write("window_hashes", pl.DataFrame(rows, schema_overrides={"phash": pl.UInt64, "phash2": pl.UInt64}), "test")
    wh.write("videos", videos, "test")
    out = decontaminate.run(settings, subjects=["physics"], params={
        "sample_benchmark_videos": False, "load_registry": False, "benchmark_videos": bench_videos})
    assert out["benchmark_windows_hashed"] == len(sliding) + sum(
        len(sliding_window_hashes_for(b["path"])) for b in bench_videos[1:])
    got = wh.query("SELECT video_id, matched_item, offset_s, windows_matched, evidence FROM contamination").to_dicts()
    assert {r["video_id"] for r in got} == {c.video_id for c in picked}
    for r in got:
        c = next(c for c in picked if c.video_id == r["video_id"])
        assert r["matched_item"] == f"item-{c.copy_of}"
        ev = json.loads(r["evidence"])
        assert len(ev) == r["windows_matched"] >= 2
        assert all(abs(e["bench_start_s"] - (20 * e["window_index"] + c.tr.shift_s)) <= 3.0 for e in ev)
    view = wh.query("SELECT * FROM v_contamination_by_benchmark WHERE benchmark = 'lectures'").to_dicts()
    assert view[0]["items_matched_by_neardup"] == len({c.copy_of for c in picked})
    assert view[0]["items_matched_by_id"] == 0 and view[0]["videos_by_neardup"] == len(picked)
