"""The benchmark registry: evaluation benchmark manifests -> `benchmark_items` rows, benchmark videos -> window hashes.

Sources (paths relative to `settings.benchmarks_dir`, default `../shared/benchmarks/`):
- MMVU validation (`mmvu/validation.json`: list of items with `youtube_url`);
- VideoMMMU (`videommmu/{perception,comprehension,adaptation}_video.json`: {"Track": {"0": item, ...}},
  items with `link_selected`; ids repeat across tracks, so item_id is `<Track>/<id>`);
- any other JSON / JSONL manifest through `load_generic` with a configurable URL field, configured in
  `videokr.toml` as

      [[benchmarks.sources]]
      name = "scivideobench"
      path = "/data/scivideobench/test.jsonl"   # absolute, or relative to benchmarks_dir
      url_field = "video_url"                   # dotted paths work: "meta.url"
      id_field = "id"                           # optional; default: position in the file
      question_field = "question"               # optional

SciVideoBench has no built-in loader (its manifest is not shipped with the project): register it as above, naming its
manifest file and the field that holds each item's video URL. `videokr benchmarks fetch` (jobs/dedup/fetch.py)
downloads the YouTube videos of every source, built-in or generic; an item whose URL is not a YouTube video is
quarantined there (`benchmark_video_invalid_id`) and keeps only its text in `benchmark_items`.
"""
from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any, Iterable

from jobs.dedup.youtube_ids import youtube_id, youtube_ids

log = logging.getLogger("videokr.benchmarks")

VIDEOMMMU_TRACKS = ("perception", "comprehension", "adaptation")


class BenchmarkFileError(ValueError):
    """A manifest that cannot be read; names the file and the reason."""


def _read_json(path: Path) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise BenchmarkFileError(f"{path}: cannot read: {exc}") from None
    try:
        if path.suffix == ".jsonl":
            return [json.loads(line) for line in text.splitlines() if line.strip()]
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise BenchmarkFileError(f"{path}: not valid JSON: {exc}") from None


def _row(benchmark: str, item_id: str, url: str | None, source: Path, **extra) -> dict:
    url = url if isinstance(url, str) else None
    ids = youtube_ids(url) if url else []
    first = youtube_id(url) if url else None
    return {"benchmark": benchmark, "item_id": item_id, "url": url, "youtube_id": first or (ids[0] if ids else None),
            "youtube_ids": ids, "source_file": str(source), "track": None, "source_id": None, "question": None,
            "question_type": None, "options": None, "answer": None, "subject": None} | extra


def _str(v) -> str | None:
    return None if v is None else str(v)


def load_mmvu(path: Path) -> list[dict]:
    rows = []
    for i, it in enumerate(_read_json(path)):
        choices = it.get("choices") or {}
        options = [f"{k}. {v}" for k, v in sorted(choices.items()) if v] if isinstance(choices, dict) else None
        rows.append(_row("mmvu", str(it.get("id", f"validation_{i}")), it.get("youtube_url"), path,
                         source_id=_str(it.get("id")), question=it.get("question"),
                         question_type=it.get("question_type"), options=options or None,
                         answer=_str(it.get("answer")), subject=(it.get("metadata") or {}).get("subject")))
    return rows


def load_videommmu(path: Path) -> list[dict]:
    doc = _read_json(path)
    rows = []
    tracks = doc.items() if isinstance(doc, dict) else [(path.stem.split("_")[0].title(), doc)]
    for track, items in tracks:
        values = items.values() if isinstance(items, dict) else items
        for it in values:
            sid = str(it.get("id"))
            opts = it.get("options") or []
            rows.append(_row("videommmu", f"{track}/{sid}", it.get("link_selected"), path, track=track,
                             source_id=sid, question=it.get("question"),
                             question_type=it.get("question_type") or ("multiple-choice" if opts else "open-ended"),
                             options=[f"{chr(65 + j)}. {o}" for j, o in enumerate(opts)] or None,
                             answer=_str(it.get("answer")), subject=sid.split("_")[1] if sid.count("_") >= 2 else None))
    return rows


def _get(item: Any, dotted: str | None):
    if not dotted:
        return None
    cur = item
    for part in dotted.split("."):
        if not isinstance(cur, dict):
            return None
        cur = cur.get(part)
    return cur


def _records(doc: Any) -> Iterable[dict]:
    """Item dicts of a manifest: a list, a dict of lists (e.g. {"test": [...]}) or an id -> item map."""
    if isinstance(doc, list):
        yield from (x for x in doc if isinstance(x, dict))
    elif isinstance(doc, dict):
        for v in doc.values():
            if isinstance(v, list):
                yield from _records(v)
            elif isinstance(v, dict):
                is_item = any(not isinstance(x, (dict, list)) for x in v.values())
                yield from ([v] if is_item else _records(v))


def load_generic(name: str, path: Path, url_field: str, id_field: str | None = None,
                 question_field: str | None = "question") -> list[dict]:
    """Any JSON / JSONL manifest: one item per record, its video URL read from `url_field`."""
    rows = []
    for i, it in enumerate(_records(_read_json(path))):
        sid = _get(it, id_field)
        rows.append(_row(name, str(sid if sid is not None else i), _get(it, url_field), path,
                         source_id=_str(sid), question=_str(_get(it, question_field)),
                         question_type=_str(it.get("question_type")), answer=_str(it.get("answer"))))
    return rows


def sources(settings, params: dict | None = None) -> list[dict]:
    """Manifest specs to load: the built-ins present under benchmarks_dir plus configured generic ones."""
    root = Path(settings.benchmarks_dir)
    specs: list[dict] = []
    if (root / "mmvu" / "validation.json").is_file():
        specs.append({"name": "mmvu", "kind": "mmvu", "path": str(root / "mmvu" / "validation.json")})
    for track in VIDEOMMMU_TRACKS:
        p = root / "videommmu" / f"{track}_video.json"
        if p.is_file():
            specs.append({"name": "videommmu", "kind": "videommmu", "path": str(p)})
    extra = list(settings.section("benchmarks").get("sources", [])) + list((params or {}).get("benchmark_sources", []))
    for s in extra:
        p = Path(s["path"])
        specs.append({"kind": "generic", **s, "path": str(p if p.is_absolute() else root / p)})
    return specs


def load_items(specs: list[dict], quarantine=None) -> list[dict]:
    """All items of `specs`; a bad file is quarantined (if `quarantine` is given) and skipped."""
    rows: list[dict] = []
    for s in specs:
        path = Path(s["path"])
        try:
            if s["kind"] == "mmvu":
                got = load_mmvu(path)
            elif s["kind"] == "videommmu":
                got = load_videommmu(path)
            else:
                got = load_generic(s["name"], path, s["url_field"], s.get("id_field"), s.get("question_field", "question"))
        except (BenchmarkFileError, KeyError, TypeError, AttributeError) as exc:
            if quarantine is None:
                raise
            quarantine(item=str(path), reason="bad_benchmark_manifest", detail=str(exc))
            continue
        log.info("benchmark %s: %d items from %s (%d without a YouTube id)", s.get("name"), len(got), path,
                 sum(1 for r in got if not r["youtube_id"]))
        rows.extend(got)
    return rows


def window_rows(benchmark: str, bench_video_id: str, item_id: str | None, path: Path, hashes) -> list[dict]:
    """benchmark_windows rows from `jobs.media.windows.sliding_window_hashes_for(path)` output (dicts or a polars
    frame; phash2, quality and frame_count optional), stamped with the hash version."""
    from jobs.media.windows import HASH_VERSION
    recs = hashes.to_dicts() if hasattr(hashes, "to_dicts") else list(hashes)
    return [{"benchmark": benchmark, "bench_video_id": bench_video_id, "item_id": item_id,
             "window_index": int(h["window_index"]), "start_s": float(h["start_s"]), "end_s": float(h["end_s"]),
             "phash": int(h["phash"]), "phash2": h.get("phash2"), "quality": h.get("quality"),
             "frame_count": h.get("frame_count"), "hash_version": HASH_VERSION, "source_path": str(path)} for h in recs]
