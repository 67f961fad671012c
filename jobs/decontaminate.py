"""Decontaminate stage: find corpus videos that overlap evaluation benchmarks and record them in `contamination`.

1. Benchmark registry -> `benchmark_items` (jobs/dedup/benchmarks.py: MMVU, VideoMMMU, generic JSON/JSONL manifests).
2. Benchmark videos available as files (the sample world's benchmark-like originals, or params["benchmark_videos"])
   -> `benchmark_windows` via `jobs.media.windows.sliding_window_hashes_for(path)` (two half-window pHashes, 1-s starts).
3. Matching, scoped by subject:
   - YouTube id: videos.video_id in benchmark_items.youtube_ids (sql/queries/contamination_youtube.sql);
   - near-duplicates: window_hashes vs benchmark_windows, banded Hamming join + sequence matching (jobs/dedup/neardup.py).
Every candidate of a contaminated video is excluded by split and export.

Params (also `[decontaminate]` in videokr.toml): t, k, tol_s, max_gap (NearDupParams), load_registry (default true),
benchmark_sources (generic manifests, see jobs/dedup/benchmarks.py), benchmark_videos ([{benchmark, video_id, item_id, path}]).
"""
from __future__ import annotations

import json
import logging
from pathlib import Path

import polars as pl

from jobs.dedup import benchmarks
from jobs.dedup.neardup import NearDupParams, near_duplicates
from jobs.dedup.youtube_ids import youtube_id, youtube_ids
from videokr.settings import SQL_DIR, Settings
from warehouse import Warehouse, stage_run

__all__ = ["youtube_id", "youtube_ids", "run", "CONTAMINATION_COLUMNS"]

log = logging.getLogger("videokr.decontaminate")

CONTAMINATION_SCHEMA = {"video_id": pl.Utf8, "subject_id": pl.Utf8, "benchmark": pl.Utf8, "matched_item": pl.Utf8,
                        "method": pl.Utf8, "score": pl.Float64, "windows_matched": pl.Int32, "offset_s": pl.Float64,
                        "mean_distance": pl.Float64, "evidence": pl.Utf8}
CONTAMINATION_COLUMNS = list(CONTAMINATION_SCHEMA)


def _q(name: str) -> str:
    return (SQL_DIR / "queries" / name).read_text()


def load_registry(settings: Settings, run, params: dict) -> dict[str, int]:
    """Write every configured benchmark manifest into benchmark_items (replacing each benchmark's rows)."""
    rows = benchmarks.load_items(benchmarks.sources(settings, params), run.quarantine)
    counts: dict[str, int] = {}
    for bench in sorted({r["benchmark"] for r in rows}):
        picked = [r for r in rows if r["benchmark"] == bench]
        dup = len(picked) - len({r["item_id"] for r in picked})
        if dup:
            run.quarantine(item=bench, reason="duplicate_benchmark_item_ids", detail=f"{dup} duplicates dropped")
            picked = list({r["item_id"]: r for r in picked}.values())
        run.write("benchmark_items", picked, scope={"benchmark": [bench]})
        counts[bench] = len(picked)
    return counts


def benchmark_videos(settings: Settings, params: dict) -> list[dict]:
    """Benchmark video files to hash: params["benchmark_videos"], the files `videokr benchmarks fetch` put on disk
    (jobs/dedup/fetch.py; off with params["fetched_benchmark_videos"] = false), plus the sample world's originals."""
    vids = [dict(v) for v in params.get("benchmark_videos", [])]
    if params.get("fetched_benchmark_videos", True):
        from jobs.dedup.fetch import fetched_videos
        given = {(v["benchmark"], v["video_id"]) for v in vids}
        vids += [v for v in fetched_videos(settings) if (v["benchmark"], v["video_id"]) not in given]
    if settings.search_source == "sample" and params.get("sample_benchmark_videos", True):
        try:
            from jobs.sources.sample.library import build_library
        except ImportError:  # sample world not built in this checkout
            return vids
        for v in build_library(settings).benchmark_videos:
            if v.get("mp4"):
                vids.append({"benchmark": v.get("benchmark") or "sample", "video_id": v["video_id"],
                             "item_id": v.get("item_id"), "path": str(v["mp4"])})
    return vids


def load_benchmark_windows(settings: Settings, wh: Warehouse, run, params: dict) -> int:
    """Hash benchmark videos not hashed yet (by benchmark, video and file path; rows of another hash version are
    hashed again) into benchmark_windows: a window starting every second (see neardup.py)."""
    vids = benchmark_videos(settings, params)
    if not vids:
        return 0
    from jobs.media.windows import HASH_VERSION, sliding_window_hashes_for
    have = {(r["benchmark"], r["bench_video_id"], r["source_path"]) for r in wh.query(
        "SELECT DISTINCT benchmark, bench_video_id, source_path FROM benchmark_windows "
        "WHERE hash_version = $v", {"v": HASH_VERSION}).to_dicts()}
    rows: list[dict] = []
    for v in vids:
        key = (v["benchmark"], v["video_id"], str(v["path"]))
        if key in have:
            continue
        try:
            hashes = sliding_window_hashes_for(Path(v["path"]))
        except Exception as exc:  # unreadable / truncated file: quarantine, go on
            run.quarantine(item=str(v["path"]), reason="benchmark_video_unreadable", detail=f"{type(exc).__name__}: {exc}")
            continue
        rows += benchmarks.window_rows(v["benchmark"], v["video_id"], v.get("item_id"), Path(v["path"]), hashes)
    if rows:
        # replace the windows of the videos re-hashed (a new file may have fewer windows)
        frame = pl.DataFrame(rows, schema_overrides={"phash": pl.UInt64, "phash2": pl.UInt64, "window_index": pl.Int32,
                                                     "quality": pl.Int32, "frame_count": pl.Int32,
                                                     "hash_version": pl.Int32})
        run.write("benchmark_windows", frame, scope={"bench_video_id": sorted({r["bench_video_id"] for r in rows})})
    return len(rows)


def youtube_matches(wh: Warehouse, subjects: list[str]) -> pl.DataFrame:
    return wh.query(_q("contamination_youtube.sql"), {"subjects": subjects, "all_subjects": not subjects})


def phash_matches(wh: Warehouse, subjects: list[str], p: NearDupParams) -> pl.DataFrame:
    con = wh.con
    if "window_hashes" not in wh.tables():
        log.warning("decontaminate: no window_hashes table yet; near-duplicate search skipped")
        return pl.DataFrame()
    con.execute(f"CREATE OR REPLACE TEMP TABLE _corpus_src AS {_q('corpus_windows.sql')}",
                {"subjects": subjects, "all_subjects": not subjects})
    con.execute("""CREATE OR REPLACE TEMP TABLE _bench_src AS
                   SELECT benchmark, bench_video_id, item_id, window_index, start_s, end_s, phash, phash2, quality
                   FROM benchmark_windows WHERE phash IS NOT NULL""")
    try:
        found = near_duplicates(con, p, "_corpus_src", "_bench_src")
        subj = con.execute("SELECT DISTINCT video_id, subject_id FROM _corpus_src").pl()
    finally:
        for t in ("_corpus_src", "_bench_src"):
            con.execute(f"DROP TABLE IF EXISTS temp.{t}")
    if found.is_empty():
        return found
    return found.join(subj, on="video_id", how="left")


def _rows(frames: list[pl.DataFrame]) -> list[dict]:
    """One row per (video, benchmark, matched item, method): the best score wins."""
    best: dict[tuple, dict] = {}
    for df in frames:
        for r in df.to_dicts() if not df.is_empty() else []:
            row = {c: r.get(c) for c in CONTAMINATION_COLUMNS}
            if row["evidence"] is not None and not isinstance(row["evidence"], str):   # phash: the run's windows
                row["evidence"] = json.dumps(row["evidence"], sort_keys=True)
            key = (row["video_id"], row["benchmark"], row["matched_item"], row["method"])
            if key not in best or (row["score"] or 0) > (best[key]["score"] or 0):
                best[key] = row
    return [best[k] for k in sorted(best)]


def run(settings: Settings | None = None, subjects: list[str] | None = None, params: dict | None = None) -> dict:
    """Load the benchmark registry and windows, then write `contamination` for `subjects` (empty: all)."""
    settings = settings or Settings.load()
    params = settings.section("decontaminate") | dict(params or {})
    nd = NearDupParams.from_params(params)
    subjects = sorted(subjects or [])
    shown = {k: v for k, v in params.items() if k != "benchmark_videos"}
    with Warehouse(settings) as wh, stage_run(wh, "decontaminate", {"subjects": subjects}, shown) as r:
        registry = load_registry(settings, r, params) if params.get("load_registry", True) else {}
        n_windows = load_benchmark_windows(settings, wh, r, params)
        yt = youtube_matches(wh, subjects)
        ph = phash_matches(wh, subjects, nd)
        rows = _rows([yt, ph])
        r.write("contamination", pl.DataFrame(rows, schema=CONTAMINATION_SCHEMA), scope={"subject_id": subjects} if subjects else {})
        videos = sorted({x["video_id"] for x in rows})
        log.info("decontaminate: %d contaminated videos (%d by youtube_id, %d by phash)", len(videos),
                 yt.height, ph.height)
        return {"run_id": r.run_id, "stage": "decontaminate", "changed": r.changed, "rows": dict(r.rows), "benchmark_items": registry,
                "benchmark_windows_hashed": n_windows, "contaminated_videos": videos,
                "by_method": {"youtube_id": yt.height, "phash": ph.height}, "neardup": nd.__dict__}
