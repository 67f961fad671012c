"""Versioned export folders: files plus manifest.json (row counts, sha256 per file, snapshot, split seed).

The manifest holds no wall-clock time, so the same snapshot gives a byte-identical folder, manifest included.
"""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from jobs.instruction import PROMPT_VERSION
from jobs.export.writers import count_rows

MANIFEST = "manifest.json"


def export_id(fmt: str, snapshot_id: int, seeds: list[int], subjects: list[str]) -> str:
    seed = "-".join(str(s) for s in seeds) or "none"
    eid = f"{fmt}-snap{snapshot_id}-seed{seed}"
    if subjects:
        eid += "-subj" + hashlib.sha256(",".join(sorted(subjects)).encode()).hexdigest()[:8]
    return eid


def build_manifest(eid: str, fmt: str, snapshot_id: int, seeds: list[int], subjects: list[str],
                   files: dict[str, bytes], excluded: dict[str, int], split_rows: dict[str, int]) -> dict:
    return {
        "export_id": eid, "format": fmt, "snapshot_id": snapshot_id,
        "split_seed": seeds[0] if len(seeds) == 1 else seeds, "subjects": sorted(subjects),
        "prompt_version": PROMPT_VERSION,
        "files": {name: {"rows": count_rows(name, data), "bytes": len(data),
                         "sha256": hashlib.sha256(data).hexdigest()} for name, data in sorted(files.items())},
        "examples": split_rows, "excluded_examples": dict(sorted(excluded.items())),
    }


def manifest_bytes(manifest: dict) -> bytes:
    return (json.dumps(manifest, ensure_ascii=False, indent=2, sort_keys=True) + "\n").encode()


def write_folder(folder: Path, files: dict[str, bytes], manifest: dict) -> Path:
    """Write every file (atomically, via a temp name) and the manifest last."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, data in list(files.items()) + [(MANIFEST, manifest_bytes(manifest))]:
        tmp = folder / f".{name}.tmp"
        tmp.write_bytes(data)
        os.replace(tmp, folder / name)
    return folder


def verify_folder(folder: Path) -> list[str]:
    """Problems with an export folder: files missing or not matching the manifest's sha256."""
    m = json.loads((folder / MANIFEST).read_text())
    problems = []
    for name, meta in m["files"].items():
        p = folder / name
        if not p.is_file():
            problems.append(f"{name}: missing")
        elif hashlib.sha256(p.read_bytes()).hexdigest() != meta["sha256"]:
            problems.append(f"{name}: sha256 differs from manifest")
    return problems
