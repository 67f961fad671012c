"""Near-duplicate detection on real video files of the sample world: the planted re-encoded, resized and trimmed copies
of the benchmark-like originals are caught; regular videos of the same scene types (the hardest negatives) are not.

Renders only what it needs (2 originals, 3 copies, 3 look-alike regular videos) with the sample world's renderer,
hashes them with jobs.media.windows.window_hashes_for, and runs the decontaminate stage with the originals as benchmark videos.
"""
from __future__ import annotations

import pytest

pytest.importorskip("jobs.sources.sample.render")

import polars as pl  # noqa: E402

from jobs import decontaminate  # noqa: E402
from jobs.media.windows import window_hashes_for  # noqa: E402
from jobs.sources.sample.planted import bench_specs, planted_specs  # noqa: E402
from jobs.sources.sample.render import render_item  # noqa: E402
from jobs.sources.sample.spec import kp_specs  # noqa: E402

pytestmark = pytest.mark.slow


def test_planted_copies_caught_lookalikes_not(settings, wh, tmp_path):
    root = tmp_path / "render"
    originals = {}
    bench_videos = []
    for item_id, spec in bench_specs(settings.seed):
        rec = render_item(spec, root / spec.video_id)
        originals[spec.key] = root / spec.video_id / rec["mp4"]
        bench_videos.append({"benchmark": "sample", "video_id": spec.video_id, "item_id": item_id,
                             "path": str(originals[spec.key])})
    copies = [s for s, f in planted_specs(settings.seed, settings.benchmarks_dir) if f == "decontaminate:phash"]
    assert len(copies) >= 3
    lookalikes = [s for s in kp_specs(settings.seed) if s.scene_type in {c.scene_type for c in copies}][:3]
    corpus_rows, videos = [], []
    for spec in copies + lookalikes:
        src = originals.get(spec.options.get("copy_of"))
        rec = render_item(spec, root / spec.video_id, source_mp4=src)
        for w in window_hashes_for(root / spec.video_id / rec["mp4"]):
            corpus_rows.append({"video_id": spec.video_id, "subject_id": "physics", **w})
        videos.append({"video_id": spec.video_id, "subject_id": "physics", "kp_id": "kp-x"})
    wh.write("window_hashes", pl.DataFrame(corpus_rows, schema_overrides={"phash": pl.UInt64, "phash2": pl.UInt64}),
             "test")
    wh.write("videos", videos, "test")

    out = decontaminate.run(settings, subjects=["physics"], params={
        "sample_benchmark_videos": False, "load_registry": False, "benchmark_videos": bench_videos})
    assert out["benchmark_windows_hashed"] > 0
    found = wh.query("SELECT video_id, matched_item, method, windows_matched FROM contamination").to_dicts()
    assert {r["video_id"] for r in found} == {c.video_id for c in copies}
    assert all(r["method"] == "phash" and r["windows_matched"] >= 3 for r in found)
    by_copy = {r["video_id"]: r["matched_item"] for r in found}
    bench_item = {s.key: i for i, s in bench_specs(settings.seed)}
    assert all(by_copy[c.video_id] == bench_item[c.options["copy_of"]] for c in copies)
    # benchmark windows are hashed once: a rerun hashes nothing new and changes nothing
    again = decontaminate.run(settings, subjects=["physics"], params={
        "sample_benchmark_videos": False, "load_registry": False, "benchmark_videos": bench_videos})
    assert again["benchmark_windows_hashed"] == 0 and again["rows"].get("contamination", 0) == 0
