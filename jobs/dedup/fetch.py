"""Fetch the registered benchmarks' videos (`videokr benchmarks fetch`, and the first task of the decontaminate DAG).

Near-duplicate matching needs the benchmark videos as files, and the manifests only hold YouTube URLs. For every
benchmark of the registry (jobs/dedup/benchmarks.py: MMVU, VideoMMMU and the generic `[[benchmarks.sources]]`, e.g.
SciVideoBench) the distinct YouTube ids of its items (parsed and validated by jobs/dedup/youtube_ids.py) are
downloaded through the project's yt-dlp source (jobs/sources/ytdlp.py: download archive, retries, HTTP Range resume,
`ratelimit` bytes/s) into `$VIDEOKR_HOME/benchmarks/<benchmark>/<video_id>/<video_id>.mp4`, at most one download
start every `min_interval_s` seconds (YouTube throttles and bot-checks bursts).

- `benchmark_videos` records each video's state (ok | missing | failed, the reason and yt-dlp's message), committed
  in chunks of `chunk_videos` with their quarantine rows, so a killed fetch keeps what it finished.
- A video that cannot be had (removed, private, blocked, age-restricted, not found) is `missing`, a transient
  failure (network, bot check, 429) `failed`; both get a quarantine row (stage `benchmarks_fetch`, reason
  `benchmark_video_<reason>`) and the run goes on. An item whose URL holds no YouTube id is quarantined as
  `benchmark_video_invalid_id`.
- A rerun skips videos whose file is on disk before any yt-dlp call, and tries the missing and failed ones again
  (a video fetched at last loses its quarantine row).
- `fetched_videos` lists the files from disk (with `items.json` beside each, naming its items); the decontaminate
  stage hashes them into `benchmark_windows`.
- The offline sample world has no network: with `search_source = "sample"` the fetch is a no-op (`fetch = true`
  in `[benchmarks]`, or `--force`, fetches anyway).

Config (`[benchmarks]` in videokr.toml; params override): fetch ("auto" | true | false), min_interval_s, chunk_videos,
video_dir, limit (videos tried per run), benchmark (names to fetch), `[benchmarks.download]` (overrides `[download]`).
"""
from __future__ import annotations

import json
import logging
import time
from datetime import UTC, datetime
from pathlib import Path

from jobs.dedup import benchmarks
from jobs.sources.ytdlp import VIDEO_ID_RE, InvalidVideoId, YtDlpDownloader, safe_video_dir
from videokr.settings import Settings
from warehouse import Warehouse, stage_run

log = logging.getLogger("videokr.benchmarks_fetch")

STAGE = "benchmarks_fetch"
DEFAULTS = {"fetch": "auto", "min_interval_s": 2.0, "chunk_videos": 20, "video_dir": None, "limit": None,
            "benchmark": None}
# yt-dlp's messages -> (status, reason); first match wins. missing: the video itself is gone for us.
REASONS = (
    ("private video", "missing", "private"),
    ("sign in to confirm your age", "missing", "age_restricted"),
    ("confirm you're not a bot", "failed", "bot_check"),
    ("confirm you’re not a bot", "failed", "bot_check"),
    ("removed", "missing", "removed"),
    ("terminated", "missing", "removed"),
    ("not available in your country", "missing", "blocked"),
    ("blocked", "missing", "blocked"),
    ("copyright", "missing", "blocked"),
    ("http error 429", "failed", "rate_limited"),
    ("http error 404", "missing", "not_found"),
    ("http error 410", "missing", "not_found"),
    ("video unavailable", "missing", "unavailable"),
    ("invalid_id", "missing", "invalid_id"),
    ("timed out", "failed", "network"),
    ("connection", "failed", "network"),
)


def classify(error: str | None) -> tuple[str, str]:
    """(status, reason) of a failed download from yt-dlp's error text."""
    text = (error or "").lower()
    for needle, status, reason in REASONS:
        if needle in text:
            return status, reason
    return "failed", "error"


def video_root(settings: Settings, cfg: dict | None = None) -> Path:
    """The folder holding one sub-folder per benchmark."""
    d = (cfg or {}).get("video_dir") or settings.section("benchmarks").get("video_dir")
    return Path(d) if d else Path(settings.home) / "benchmarks"


def config(settings: Settings, params: dict | None) -> dict:
    cfg = {k: v for k, v in settings.section("benchmarks").items() if k != "sources"}
    return DEFAULTS | cfg | {k: v for k, v in (params or {}).items() if v is not None}


def enabled(settings: Settings, cfg: dict) -> bool:
    """Fetch over the network? "auto": only when the pipeline talks to YouTube (never in the offline sample world)."""
    mode = cfg.get("fetch", "auto")
    if isinstance(mode, str) and mode.lower() in ("auto", ""):
        return settings.search_source == "youtube"
    return str(mode).lower() not in ("false", "0", "no", "off")


def _names(value) -> list[str]:
    if not value:
        return []
    items = [value] if isinstance(value, str) else list(value)
    return [n.strip() for v in items for n in str(v).split(",") if n.strip()]


def specs(settings: Settings, params: dict, cfg: dict) -> list[dict]:
    """The registry's manifests, only those of cfg["benchmark"] when given (an unknown name is an error)."""
    found = benchmarks.sources(settings, params)
    names = _names(cfg.get("benchmark"))
    if names:
        known = sorted({s["name"] for s in found})
        unknown = sorted(set(names) - set(known))
        if unknown:
            raise ValueError(f"unknown benchmark(s) {unknown}; registered: {known}")
        found = [s for s in found if s["name"] in names]
    return found


def wanted(specs: list[dict], quarantine) -> list[dict]:
    """The videos to have, one per (benchmark, YouTube id) in manifest order, with the items that use them."""
    videos: dict[tuple[str, str], dict] = {}
    for item in benchmarks.load_items(specs, quarantine):
        ids = item["youtube_ids"] or ([item["youtube_id"]] if item["youtube_id"] else [])
        if not ids:
            quarantine(item=f"{item['benchmark']}/{item['item_id']}", reason="benchmark_video_invalid_id",
                       detail=f"no YouTube video id in url {item['url']!r}")
            continue
        for vid in ids:
            v = videos.setdefault((item["benchmark"], vid), {"benchmark": item["benchmark"], "video_id": vid,
                                                            "url": item["url"], "item_ids": []})
            if item["item_id"] not in v["item_ids"]:
                v["item_ids"].append(item["item_id"])
    return list(videos.values())


def _forget_archived(archive: Path, video_ids: set[str]) -> None:
    """Drop ids from yt-dlp's download archive whose file is gone, so yt-dlp downloads them again."""
    if not video_ids or not archive.is_file():
        return
    lines = archive.read_text().splitlines()
    kept = [ln for ln in lines if ln.split()[-1:] and ln.split()[-1] not in video_ids]
    if len(kept) != len(lines):
        archive.write_text("".join(f"{ln}\n" for ln in kept))


def fetched_videos(settings: Settings, cfg: dict | None = None) -> list[dict]:
    """Fetched benchmark files on disk: [{benchmark, video_id, item_id (when the video has one item), path}].

    Read from disk rather than `benchmark_videos`: the files are what gets hashed, and the caller (the
    decontaminate stage) needs no second warehouse connection for it."""
    root, out = video_root(settings, cfg), []
    if not root.is_dir():
        return out
    for bdir in sorted(p for p in root.iterdir() if p.is_dir()):
        for vdir in sorted(p for p in bdir.iterdir() if p.is_dir() and VIDEO_ID_RE.match(p.name)):
            mp4 = vdir / f"{vdir.name}.mp4"
            if not mp4.is_file() or mp4.stat().st_size == 0:
                continue
            try:
                items = json.loads((vdir / "items.json").read_text()).get("item_ids") or []
            except (OSError, ValueError, AttributeError):
                items = []
            out.append({"benchmark": bdir.name, "video_id": vdir.name,
                        "item_id": items[0] if len(items) == 1 else None, "path": str(mp4)})
    return out


def _write_items(vdir: Path, v: dict) -> None:
    """items.json beside the mp4: which items use the video (read by fetched_videos)."""
    (vdir / "items.json").write_text(json.dumps({k: v[k] for k in ("benchmark", "video_id", "url", "item_ids")}))


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


class Fetcher:
    """One fetch run: downloads the videos not on disk, in chunks, writing their state and quarantine rows."""

    def __init__(self, settings: Settings, run, cfg: dict):
        self.settings, self.run, self.cfg = settings, run, cfg
        self.root = video_root(settings, cfg)
        self.downloader = YtDlpDownloader(settings.section("download") | dict(cfg.get("download") or {}))
        self.counts = {"ok": 0, "missing": 0, "failed": 0, "on_disk": 0}
        self._last_start = 0.0

    def _pace(self) -> None:
        """At most one download start per min_interval_s."""
        wait = float(self.cfg.get("min_interval_s") or 0) - (time.monotonic() - self._last_start)
        if wait > 0:
            time.sleep(wait)
        self._last_start = time.monotonic()

    def fetch_one(self, v: dict, before: dict | None) -> dict:
        out_dir = self.root / v["benchmark"]
        try:
            vdir = safe_video_dir(v["video_id"], out_dir)
        except InvalidVideoId as exc:
            d_path, error = None, f"invalid_id: {exc}"
        else:
            _forget_archived(out_dir / "archive.txt", {v["video_id"]})
            self._pace()
            d = self.downloader.download(v["video_id"], out_dir)
            d_path, error = d.path, d.error
            if d_path:
                _write_items(vdir, v)
        status, reason = ("ok", None) if d_path else classify(error)
        return v | {"path": str(d_path) if d_path else None, "status": status, "reason": reason,
                    "error": None if d_path else (error or "")[:1000],
                    "bytes": Path(d_path).stat().st_size if d_path else None,
                    "attempts": int((before or {}).get("attempts") or 0) + 1, "fetched_at": _now(),
                    "downloader": self.downloader.name}

    def fetch(self, videos: list[dict]) -> None:
        have = {(r["benchmark"], r["video_id"]): r for r in self.run.wh.query(
            "SELECT * EXCLUDE (run_id) FROM benchmark_videos WHERE benchmark IN (SELECT unnest(?::VARCHAR[]))",
            [sorted({v["benchmark"] for v in videos})]).to_dicts()}
        todo, keep = [], []
        for v in videos:
            before = have.get((v["benchmark"], v["video_id"]))
            if before and before["status"] == "ok" and before["path"] and Path(before["path"]).is_file():
                self.counts["on_disk"] += 1
                if (before["item_ids"], before["url"]) != (v["item_ids"], v["url"]):
                    keep.append(before | {"item_ids": v["item_ids"], "url": v["url"]})   # the manifest changed
                    _write_items(Path(before["path"]).parent, v)
            else:
                todo.append((v, before))
        if keep:
            self.run.write("benchmark_videos", keep)
        limit = self.cfg.get("limit")
        if limit is not None:
            todo = todo[: int(limit)]
        n, t0, size = max(1, int(self.cfg.get("chunk_videos") or 20)), time.monotonic(), 0
        log.info("benchmarks fetch: %d videos to fetch, %d already on disk", len(todo), self.counts["on_disk"])
        for i in range(0, len(todo), n):
            with self.run.chunk():      # the chunk's state rows and quarantine rows: one commit
                rows = [self.fetch_one(v, before) for v, before in todo[i:i + n]]
                for r in rows:
                    self.counts[r["status"]] += 1
                    size += r["bytes"] or 0
                    item = f"{r['benchmark']}/{r['video_id']}"
                    if r["status"] != "ok":
                        self.run.quarantine(item=item, reason=f"benchmark_video_{r['reason']}", detail=r["error"])
                cleared = [f"{r['benchmark']}/{r['video_id']}" for (_, b), r in zip(todo[i:i + n], rows)
                           if r["status"] == "ok" and b is not None]
                if cleared:             # fetched at last: its old quarantine row goes
                    self.run.write("quarantine", [], scope={"stage": [STAGE], "item": cleared})
                self.run.write("benchmark_videos", rows)
            dt = time.monotonic() - t0
            log.info("benchmarks fetch: %d/%d tried (ok %d, missing %d, failed %d), %.1f MB in %.0fs (%.2f MB/s)",
                     min(i + n, len(todo)), len(todo), self.counts["ok"], self.counts["missing"],
                     self.counts["failed"], size / 1e6, dt, size / 1e6 / max(dt, 1e-9))


def run(settings: Settings | None = None, params: dict | None = None) -> dict:
    """Fetch the benchmark videos not on disk yet; returns counts. A no-op (nothing opened) when fetching is off."""
    settings = settings or Settings.load()
    params = dict(params or {})
    cfg = config(settings, params)
    if not enabled(settings, cfg):
        why = ("[benchmarks] fetch is off" if settings.search_source == "youtube" else
               f"search_source is {settings.search_source!r} (offline): set search_source = 'youtube', "
               "[benchmarks] fetch = true, or pass --force")
        log.info("benchmarks fetch: skipped: %s", why)
        return {"stage": STAGE, "skipped": why, "changed": False, "rows": {}}
    manifests = specs(settings, params, cfg)
    shown = {k: v for k, v in cfg.items() if k != "download"}
    with Warehouse(settings) as wh, stage_run(wh, STAGE, {"benchmarks": _names(cfg.get("benchmark"))}, shown) as r:
        videos = wanted(manifests, r.quarantine)
        f = Fetcher(settings, r, cfg)
        f.fetch(videos)
        by_bench: dict[str, int] = {}
        for v in videos:
            by_bench[v["benchmark"]] = by_bench.get(v["benchmark"], 0) + 1
        return {"run_id": r.run_id, "stage": STAGE, "changed": r.changed, "rows": dict(r.rows),
                "videos": by_bench, "fetched": f.counts["ok"], "on_disk": f.counts["on_disk"],
                "missing": f.counts["missing"], "failed": f.counts["failed"], "video_dir": str(f.root)}
