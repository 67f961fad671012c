"""Versioned export folders: files plus manifest.json (row counts, sha256 per file, snapshot, split seed).

The manifest holds no wall-clock time, so the same snapshot gives a byte-identical folder, manifest included. Files
are streamed to disk and hashed and counted on the way (HashingFile), never held whole in memory.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

from jobs.prompts.instruction import PROMPT_VERSION

MANIFEST = "manifest.json"
_UNSAFE = re.compile(r"[^\w.-]+")
_SCOPE_CHARS = 80   # longest scope part of a folder name


def scope_name(subjects: list[str]) -> str:
    """`all`, or the subject ids joined by `+` (unsafe characters as `-`); a long list keeps its first ids and says
    how many more, plus a short hash so two such lists never share a folder."""
    if not subjects:
        return "all"
    names = [_UNSAFE.sub("-", s).strip("-") or "x" for s in sorted(subjects)]
    joined = "+".join(names)
    if len(joined) <= _SCOPE_CHARS:
        return joined
    head, kept = "", 0
    for name in names:
        if len(head) + len(name) + 1 > _SCOPE_CHARS - 24:
            break
        head, kept = f"{head}+{name}" if head else name, kept + 1
    digest = hashlib.sha256(",".join(sorted(subjects)).encode()).hexdigest()[:6]
    return f"{head or names[0][:40]}+{len(names) - max(kept, 1)}more-{digest}"


def export_id(fmt: str, snapshot_id: int, seeds: list[int], subjects: list[str], videos: str = "link") -> str:
    """The folder name: format, snapshot, split seed and scope, e.g. `verl-snap42-seed7-physics`; `-abs` when the
    files hold absolute video paths (link and copy write the same files)."""
    seed = "-".join(str(s) for s in seeds) or "none"
    return f"{fmt}-snap{snapshot_id}-seed{seed}-{scope_name(subjects)}" + ("-abs" if videos == "absolute" else "")


def build_manifest(eid: str, fmt: str, snapshot_id: int, seeds: list[int], subjects: list[str],
                   files: dict[str, dict], excluded: dict[str, int], split_rows: dict[str, int],
                   videos: dict | None = None) -> dict:
    """`files`: name -> {rows, bytes, sha256} as write_folder measured them; `videos`: {mode, count}."""
    return {
        "export_id": eid, "format": fmt, "snapshot_id": snapshot_id,
        "split_seed": seeds[0] if len(seeds) == 1 else seeds, "subjects": sorted(subjects),
        "prompt_version": PROMPT_VERSION, "videos": dict(videos or {}),
        "files": {name: {"rows": meta["rows"], "bytes": meta["bytes"], "sha256": meta["sha256"]}
                  for name, meta in sorted(files.items())},
        "examples": split_rows, "excluded_examples": dict(sorted(excluded.items())),
    }


def manifest_bytes(manifest: dict) -> bytes:
    return (json.dumps(manifest, ensure_ascii=False, indent=2, sort_keys=True) + "\n").encode()


class HashingFile:
    """A write-only binary file that hashes and counts what passes through, so the manifest needs no second read."""

    def __init__(self, f: BinaryIO):
        self._f, self._sha, self.bytes = f, hashlib.sha256(), 0

    def write(self, data) -> int:
        data = bytes(data)
        self._f.write(data)
        self._sha.update(data)
        self.bytes += len(data)
        return len(data)

    def tell(self) -> int:
        return self.bytes

    def flush(self) -> None:
        self._f.flush()

    def writable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return False

    def readable(self) -> bool:
        return False

    @property
    def closed(self) -> bool:
        return self._f.closed

    def close(self) -> None:   # the caller owns the file: a writer closing its sink (pyarrow) must not close it
        pass

    def hexdigest(self) -> str:
        return self._sha.hexdigest()


def _put(folder: Path, name: str, write: Callable[[BinaryIO], int | None]) -> dict:
    """Stream one file to its temp name; its rows, bytes and sha256."""
    with open(folder / f".{name}.tmp", "wb", buffering=1 << 20) as f:
        out = HashingFile(f)
        rows = write(out)
    return {"rows": rows, "bytes": out.bytes, "sha256": out.hexdigest()}


def write_folder(folder: Path, files: dict[str, Callable[[BinaryIO], int | None]],
                 manifest: Callable[[dict[str, dict]], dict]) -> dict:
    """Stream every file to a temp name, move them all into place only once all are written, and write the
    manifest (built by `manifest` from the files' rows, bytes and sha256) last: a failed export leaves the folder
    as it was, and a reader never sees a manifest before its files. Returns the manifest."""
    folder.mkdir(parents=True, exist_ok=True)
    try:
        metas = {name: _put(folder, name, write) for name, write in files.items()}
        m = manifest(metas)
        body = manifest_bytes(m)
    except BaseException:
        for name in list(files) + [MANIFEST]:
            (folder / f".{name}.tmp").unlink(missing_ok=True)
        raise
    for name in metas:
        os.replace(folder / f".{name}.tmp", folder / name)
    tmp = folder / f".{MANIFEST}.tmp"
    tmp.write_bytes(body)
    os.replace(tmp, folder / MANIFEST)
    return m


def verify_folder(folder: Path) -> list[str]:
    """Problems with an export folder: files missing or not matching the manifest's sha256 (hashed in chunks)."""
    m = json.loads((folder / MANIFEST).read_text())
    problems = []
    for name, meta in m["files"].items():
        p = folder / name
        if not p.is_file():
            problems.append(f"{name}: missing")
            continue
        sha = hashlib.sha256()
        with open(p, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                sha.update(chunk)
        if sha.hexdigest() != meta["sha256"]:
            problems.append(f"{name}: sha256 differs from manifest")
    return problems
