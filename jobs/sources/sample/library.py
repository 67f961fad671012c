"""The sample library (a documented STAND-IN for YouTube): build, load, summarise.

    lib = build_library(settings)     # renders missing videos into $VIDEOKR_HOME/sample (cache keyed by spec hash)
    lib.items, lib.by_id(vid), lib.manifest, lib.benchmark_videos
    SampleSearch(lib), SampleDownloader(lib)   # offline SearchSource / Downloader (search.py)

Cache layout: sample/render/<spec hash[:16]>/{<id>.mp4, <id>.en.vtt, item.json, DONE}; sample/library.json lists
the current items, the planted-item manifest and the benchmark-like originals. A build renders only specs whose
DONE marker is missing, in a process pool (2 workers by default), under a file lock so concurrent builds wait.
"""
from __future__ import annotations

import fcntl
import json
import logging
import multiprocessing
import os
import shutil
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from videokr.settings import Settings

from .planted import bench_specs, planted_specs, with_flaws
from .render import render_item
from .search import SampleDownloader, SampleSearch  # noqa: F401  (re-exported, TABLES.md contract)
from .spec import VideoSpec, kp_specs

log = logging.getLogger("videokr.sample")
LIBRARY_FILE = "library.json"


@dataclass
class SampleItem:
    key: str
    video_id: str
    metadata: dict                  # YouTube videos.list item
    mp4: Path | None
    vtt: Path | None
    scene: dict                     # scene record (TABLES.md)
    planted: str | None             # plant name, None for regular items
    expected_filter: str | None = None


class Library:
    def __init__(self, root: Path, items: list[SampleItem], manifest: list[dict], benchmark_videos: list[dict]):
        self.root = root
        self.items = items
        self.manifest = manifest
        self.benchmark_videos = benchmark_videos
        self._by_id = {it.video_id: it for it in items}

    def by_id(self, video_id: str) -> SampleItem:
        return self._by_id[video_id]

    def __len__(self) -> int:
        return len(self.items)


def _root(settings: Settings) -> Path:
    return Path(settings.home) / "sample"


def _render_root(settings: Settings) -> Path:
    """Where renders live: $VIDEOKR_HOME/sample/render, or a shared folder (settings.sample_cache, content-addressed
    by spec hash, so several homes, e.g. test runs, can share one set of renders)."""
    return Path(settings.sample_cache) if settings.sample_cache else _root(settings) / "render"


def _cache_dir(root: Path, spec: VideoSpec) -> Path:
    return root / spec.spec_hash[:16]


def _done(root: Path, spec: VideoSpec) -> bool:
    marker = _cache_dir(root, spec) / "DONE"
    return marker.is_file() and marker.read_text() == spec.spec_hash


def _render_job(args) -> str:
    spec, out, src = args
    if out.exists():
        shutil.rmtree(out)          # a half-written earlier attempt
    render_item(spec, out, src)
    return spec.key


def _run(jobs: list, workers: int) -> None:
    if not jobs:
        return
    t0 = time.time()
    if workers <= 1 or len(jobs) == 1:
        for j in jobs:
            _render_job(j)
    else:
        # spawn, not fork: a child forked from a process whose other threads hold FFmpeg's or a library's locks
        # (a test session, an Airflow worker that already decoded video) hangs for good in its first decode.
        # Spawned workers import only this module's helpers (a caller's __main__ must keep its entry point
        # under `if __name__ == "__main__"`, as every entry point here does).
        with ProcessPoolExecutor(max_workers=min(workers, len(jobs)),
                                 mp_context=multiprocessing.get_context("spawn")) as pool:
            for k, _ in enumerate(pool.map(_render_job, jobs), 1):
                if k % 10 == 0 or k == len(jobs):
                    log.info("sample world: rendered %d/%d (%.1f videos/s)", k, len(jobs), k / (time.time() - t0))


def build_library(settings: Settings | None = None, workers: int | None = None) -> Library:
    """Render whatever is missing (cached by spec hash) and return the Library. Deterministic from settings.seed."""
    settings = settings or Settings.load()
    home_root = _root(settings)
    home_root.mkdir(parents=True, exist_ok=True)
    root = _render_root(settings)
    root.mkdir(parents=True, exist_ok=True)
    workers = workers or int(os.environ.get("VIDEOKR_SAMPLE_WORKERS", "2"))
    regular, manifest = with_flaws(kp_specs(settings.seed))
    plants = planted_specs(settings.seed, settings.benchmarks_dir)
    bench = bench_specs(settings.seed)
    with open(root / ".lock", "a") as lock:  # "a": taking the lock leaves the file (and its mtime) alone
        fcntl.flock(lock, fcntl.LOCK_EX)
        first = [s for s in regular + [p for p, _ in plants if not p.options.get("copy_of")] + [b for _, b in bench]
                 if not _done(root, s)]
        _run([(s, _cache_dir(root, s), None) for s in first], workers)
        by_key = {b.key: b for _, b in bench}
        copies = []
        for p, _ in plants:
            if p.options.get("copy_of") and not _done(root, p):
                orig = by_key[p.options["copy_of"]]
                copies.append((p, _cache_dir(root, p), _cache_dir(root, orig) / f"{orig.video_id}.mp4"))
        _run(copies, workers)
        if first or copies:
            log.info("sample world: rendered %d videos into %s", len(first) + len(copies), root)
        manifest = manifest + [{"video_id": p.video_id, "kind": p.planted, "expected_filter": f} for p, f in plants]
        index = {"seed": settings.seed,
                 "items": [{"key": s.key, "dir": _cache_dir(root, s).name, "expected_filter": f}
                           for s, f in [(s, None) for s in regular] + plants],
                 "benchmark_videos": [{"item_id": i, "benchmark": "sample", "video_id": b.video_id,
                                       "dir": _cache_dir(root, b).name} for i, b in bench],
                 "manifest": manifest}
        text = json.dumps(index, indent=1, sort_keys=True)
        path = home_root / LIBRARY_FILE
        if not path.exists() or path.read_text() != text:
            path.write_text(text)
        if not settings.sample_cache:  # a shared cache may hold other seeds' renders: never prune it
            _prune(root, {e["dir"] for e in index["items"] + index["benchmark_videos"]})
    return _load(home_root, index, root)


def _prune(root: Path, keep: set[str]) -> None:
    """Drop render dirs of specs no longer in the library (old seeds, older render versions)."""
    for d in root.iterdir():
        if d.is_dir() and d.name not in keep:
            shutil.rmtree(d, ignore_errors=True)


def load_library(settings: Settings | None = None) -> Library:
    """The library built earlier under $VIDEOKR_HOME/sample (no rendering). Run build_library first."""
    settings = settings or Settings.load()
    root = _root(settings)
    path = root / LIBRARY_FILE
    if not path.is_file():
        raise FileNotFoundError(f"{path}: sample library not built; run `videokr sample build`")
    return _load(root, json.loads(path.read_text()), _render_root(settings))


def _load(root: Path, index: dict, render: Path) -> Library:
    items = []
    for e in index["items"]:
        d = render / e["dir"]
        rec = json.loads((d / "item.json").read_text())
        items.append(SampleItem(key=rec["key"], video_id=rec["video_id"], metadata=rec["metadata"],
                                mp4=d / rec["mp4"] if rec["mp4"] else None, vtt=d / rec["vtt"] if rec["vtt"] else None,
                                scene=rec["scene"], planted=rec["planted"], expected_filter=e["expected_filter"]))
    bench = []
    for b in index["benchmark_videos"]:
        d = render / b["dir"]
        rec = json.loads((d / "item.json").read_text())
        bench.append({"item_id": b["item_id"], "benchmark": b["benchmark"], "video_id": b["video_id"],
                      "mp4": d / rec["mp4"], "scene": rec["scene"]})
    return Library(root, items, index["manifest"], bench)


def library_summary(lib: Library) -> dict:
    """Videos per scene type (regular items), planted items per expected filter, and file counts."""
    per_type: dict[str, int] = {}
    for it in lib.items:
        if it.planted is None:
            per_type[it.scene["scene_type"]] = per_type.get(it.scene["scene_type"], 0) + 1
    per_filter: dict[str, int] = {}
    for m in lib.manifest:
        per_filter[m["expected_filter"]] = per_filter.get(m["expected_filter"], 0) + 1
    return {"root": str(lib.root), "items": len(lib.items),
            "regular_videos": sum(per_type.values()), "videos_per_scene_type": dict(sorted(per_type.items())),
            "planted_per_expected_filter": dict(sorted(per_filter.items())),
            "mp4_files": sum(1 for it in lib.items if it.mp4 is not None),
            "captioned": sum(1 for it in lib.items if it.vtt is not None),
            "benchmark_videos": len(lib.benchmark_videos),
            "stand_in": "synthetic lecture animations; not real YouTube content"}
