"""Export stage: verified, split, decontaminated examples -> versioned folders in the formats training tools load.

    from jobs.export import export
    export(settings, "llamafactory", out_dir)        # -> <out_dir>/llamafactory-snap<N>-seed<S>/ + manifest.json

Formats (jobs/export/writers.py): videokr | llamafactory | verl | trl. Rows are read at one warehouse snapshot
(DuckLake time travel), sorted, and written with fixed formatting, so the same snapshot gives byte-identical files.
They are streamed from the warehouse to the files a batch at a time (bounded memory at any export size).

Stage params: formats (list, default all four) or format, out (default $VIDEOKR_HOME/exports), snapshot
(default current), video_root (write video paths relative to it), fps, max_frames (verl video sampling).
"""
from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path

from jobs.export.manifest import (
    build_manifest,
    export_id,
    manifest_bytes,
    verify_folder,
    write_folder,
)
from jobs.export.rows import ExportRows, read_rows
from jobs.export.writers import STREAMS
from jobs.media.model_frames import MAX_FRAMES
from videokr.settings import Settings
from warehouse import Warehouse, stage_run

__all__ = ["FORMATS", "export", "export_rows", "run", "verify_folder"]

log = logging.getLogger("videokr.export")
FORMATS = tuple(STREAMS)


def export_rows(rows: ExportRows, fmt: str, out_dir: Path, subjects: list[str] | None = None,
                opts: dict | None = None) -> dict:
    """Stream one format's folder from `rows` (with their warehouse still open); returns the manifest (plus out_dir)."""
    if fmt not in STREAMS:
        raise ValueError(f"unknown export format {fmt!r}; formats: {', '.join(FORMATS)}")
    subjects = sorted(subjects or [])
    eid = export_id(fmt, rows.snapshot_id, rows.seeds, subjects)
    split_rows = {s: rows.count(s) for s in ("sft", "rl")}
    folder = Path(out_dir) / eid
    manifest = write_folder(folder, STREAMS[fmt](rows, dict(opts or {})), lambda files: build_manifest(
        eid, fmt, rows.snapshot_id, rows.seeds, subjects, files, rows.excluded, split_rows))
    log.info("export %s: %s -> %s", fmt, split_rows, folder)
    return manifest | {"out_dir": str(folder)}


def export(settings: Settings | None, fmt: str, out_dir: str | Path, snapshot: int | None = None,
           subjects: list[str] | None = None, opts: dict | None = None) -> dict:
    """One format, outside a stage run (no `exports` row)."""
    with Warehouse(settings or Settings.load()) as wh:
        rows = read_rows(wh, snapshot, subjects, int((opts or {}).get("max_frames") or MAX_FRAMES))
        return export_rows(rows, fmt, Path(out_dir), subjects, opts)


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
    opts = {k: params[k] for k in ("video_root", "fps", "max_frames") if params.get(k) is not None}
    subjects = sorted(subjects or [])
    with Warehouse(settings) as wh:
        snapshot = params.get("snapshot")
        rows = read_rows(wh, None if snapshot in (None, "") else int(snapshot), subjects,
                         int(opts.get("max_frames") or MAX_FRAMES))
        with stage_run(wh, "export", {"subjects": subjects},
                       {"formats": formats, "out": str(out), "snapshot": rows.snapshot_id} | opts) as r:
            results = {}
            for fmt in formats:
                m = export_rows(rows, fmt, out, subjects, opts)
                results[fmt] = m
                r.write("exports", [{
                    "export_id": m["export_id"], "format": fmt, "out_dir": m["out_dir"],
                    "snapshot_id": rows.snapshot_id, "seed": rows.seeds[0] if len(rows.seeds) == 1 else None,
                    "rows_json": json.dumps({k: v["rows"] for k, v in m["files"].items()}, sort_keys=True),
                    "files_json": json.dumps({k: v["sha256"] for k, v in m["files"].items()}, sort_keys=True),
                    "manifest_sha256": hashlib.sha256(
                        manifest_bytes({k: v for k, v in m.items() if k != "out_dir"})).hexdigest()}])
            return {"run_id": r.run_id, "stage": "export", "changed": r.changed, "rows": dict(r.rows), "snapshot_id": rows.snapshot_id,
                    "exports": {f: m["out_dir"] for f, m in results.items()},
                    "examples": {s: rows.count(s) for s in ("sft", "rl")}, "excluded": rows.excluded}
