"""Export stage: verified, split, decontaminated examples -> versioned folders in the formats training tools load.

    from jobs.export import export
    export(settings, "verl", out_dir, subjects=["physics"])   # -> <out_dir>/verl-snap<N>-seed<S>-physics/

Formats (jobs/export/writers.py, as the releases write them): videokr | llamafactory | verl | trl. Rows are read at
one warehouse snapshot (DuckLake time travel), sorted, and written with fixed formatting, so the same snapshot gives
byte-identical files, streamed from the warehouse a batch at a time (bounded memory at any export size). Video paths
in the files are relative to the export folder, which holds the videos (linked by default; jobs/export/media.py), so
the folder is all a trainer needs. An example whose video file is missing is left out and its video quarantined.

Stage params: formats (list, default all four) or format, out (default $VIDEOKR_HOME/exports), snapshot
(default current), videos (link | copy | absolute, default link), fps, max_frames (verl video sampling).
"""
from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable
from pathlib import Path

from jobs.export.manifest import (
    build_manifest,
    export_id,
    manifest_bytes,
    verify_folder,
    write_folder,
)
from jobs.export.media import VIDEO_MODES, check_mode, place_videos, video_problem
from jobs.export.rows import ExportRows, read_rows
from jobs.export.writers import STREAMS
from jobs.media.model_frames import MAX_FRAMES
from videokr.settings import Settings
from warehouse import Warehouse, stage_run

__all__ = ["FORMATS", "VIDEO_MODES", "export", "export_rows", "run", "usable", "verify_folder"]

log = logging.getLogger("videokr.export")
FORMATS = tuple(STREAMS)
Quarantine = Callable[[str, str, str], None]   # (item, reason, detail), as StageRun.quarantine


def usable(rows: ExportRows, quarantine: Quarantine | None = None) -> ExportRows:
    """`rows` less the examples whose video file is missing, not a file or empty: each such video is named in the
    log (and quarantined when `quarantine` is given) once, and its examples count as excluded (missing_video)."""
    bad = {}
    for vid, source in sorted(rows.videos.items()):
        problem = video_problem(source)
        if problem is None:
            continue
        reason, detail = problem
        n = sum(rows.per_video[vid].values())
        bad[vid] = reason
        if quarantine is not None:     # it logs the item too
            quarantine(source, reason, f"video {vid}: {detail}; {n} example(s) not exported")
        else:
            log.error("export: video %s left out (%s): %s; %d example(s) not exported", vid, reason, detail, n)
    return rows.without(bad)


def export_rows(rows: ExportRows, fmt: str, out_dir: Path, subjects: list[str] | None = None,
                opts: dict | None = None, copies: dict | None = None) -> dict:
    """Stream one format's folder from `rows` (with their warehouse still open; videos already checked by `usable`)
    and place its videos; returns the manifest (plus out_dir). `copies` carries copied videos across formats."""
    if fmt not in STREAMS:
        raise ValueError(f"unknown export format {fmt!r}; formats: {', '.join(FORMATS)}")
    opts = dict(opts or {})
    mode = opts["videos"] = check_mode(opts.get("videos"))
    subjects = sorted(subjects or [])
    eid = export_id(fmt, rows.snapshot_id, rows.seeds, subjects, mode)
    split_rows = {s: rows.count(s) for s in ("sft", "rl")}
    folder = Path(out_dir) / eid
    place_videos(folder, rows.videos, mode, copies)
    videos = {"mode": mode, "count": len(rows.videos)}
    manifest = write_folder(folder, STREAMS[fmt](rows, opts), lambda files: build_manifest(
        eid, fmt, rows.snapshot_id, rows.seeds, subjects, files, rows.excluded, split_rows, videos))
    log.info("export %s: %s -> %s", fmt, split_rows, folder)
    for name, meta in manifest["files"].items():
        if meta["rows"] == 0:
            log.warning("export %s: %s has 0 rows: no example of this scope is in that split", fmt, name)
    return manifest | {"out_dir": str(folder)}


def export(settings: Settings | None, fmt: str, out_dir: str | Path, snapshot: int | None = None,
           subjects: list[str] | None = None, opts: dict | None = None,
           quarantine: Quarantine | None = None) -> dict:
    """One format, outside a stage run (no `exports` row; missing videos are logged, or given to `quarantine`)."""
    with Warehouse(settings or Settings.load()) as wh:
        rows = read_rows(wh, snapshot, subjects, int((opts or {}).get("max_frames") or MAX_FRAMES))
        return export_rows(usable(rows, quarantine), fmt, Path(out_dir), subjects, opts)


def run(settings: Settings | None = None, subjects: list[str] | None = None, params: dict | None = None) -> dict:
    """Export every requested format at one snapshot and record each in `exports`."""
    settings = settings or Settings.load()
    params = settings.section("export") | dict(params or {})
    formats = params.get("formats") or ([params["format"]] if params.get("format") else list(FORMATS))
    if isinstance(formats, str):
        formats = [f.strip() for f in formats.split(",") if f.strip()]
    unknown = [f for f in formats if f not in STREAMS]
    if unknown:
        raise ValueError(f"unknown export format(s) {unknown}; formats: {', '.join(FORMATS)}")
    out = Path(params.get("out") or settings.home / "exports")
    opts = {k: params[k] for k in ("videos", "fps", "max_frames") if params.get(k) not in (None, "")}
    opts["videos"] = check_mode(opts.get("videos"))
    subjects = sorted(subjects or [])
    with Warehouse(settings) as wh:
        snapshot = params.get("snapshot")
        rows = read_rows(wh, None if snapshot in (None, "") else int(snapshot), subjects,
                         int(opts.get("max_frames") or MAX_FRAMES))
        with stage_run(wh, "export", {"subjects": subjects},
                       {"formats": formats, "out": str(out), "snapshot": rows.snapshot_id} | opts) as r:
            with r.chunk():            # one transaction for all quarantine rows, however many videos are gone
                rows = usable(rows, r.quarantine)
            results, copies = {}, {}
            for fmt in formats:
                m = export_rows(rows, fmt, out, subjects, opts, copies)
                results[fmt] = m
                r.write("exports", [{
                    "export_id": m["export_id"], "format": fmt, "out_dir": m["out_dir"],
                    "snapshot_id": rows.snapshot_id, "seed": rows.seeds[0] if len(rows.seeds) == 1 else None,
                    "rows_json": json.dumps({k: v["rows"] for k, v in m["files"].items()}, sort_keys=True),
                    "files_json": json.dumps({k: v["sha256"] for k, v in m["files"].items()}, sort_keys=True),
                    "manifest_sha256": hashlib.sha256(
                        manifest_bytes({k: v for k, v in m.items() if k != "out_dir"})).hexdigest()}])
            return {"run_id": r.run_id, "stage": "export", "changed": r.changed, "rows": dict(r.rows),
                    "snapshot_id": rows.snapshot_id, "exports": {f: m["out_dir"] for f, m in results.items()},
                    "videos": {"mode": opts["videos"], "count": len(rows.videos)},
                    "examples": {s: rows.count(s) for s in ("sft", "rl")}, "excluded": rows.excluded}
