"""Frames stage: model-input frames and 20-second window hashes for every kept video, decoded once, fast.

Per video one packet index (demux only, keeping the keyframe packets) and one selective decode serve both uses
(see jobs/frame_sampling.py for where exact frames and where keyframes are used, and jobs/video_decode.py for how
only the needed packets are decoded). Each decoded frame is converted (model frames to RGB, hashed frames to RGBX)
and its pHash's per-frame work done on a worker thread, while the decoder's frame threads decode the next ones.
The stage writes `video_files` (probe + sha256) and `window_hashes` per video, replacing exactly those videos'
rows, with a process pool across videos sized to the cores.

Window hash (decontamination): the per-bit strict majority of the pHashes (bit-identical to imagehash.phash) of the
frames at a 1 Hz grid inside the window (a frame serving two grid points counts twice). Why this aggregate:
- re-encoding and resizing change a frame's pHash by a few bits at most (pHash works on a 32x32 Lanczos thumbnail
  and the sign of low DCT frequencies), and a majority over ~20 frames removes most of that remaining noise;
- a shift of a few seconds replaces a few of the ~20 frames; a majority only moves when the shifted-in frames
  outnumber the rest, so a lecture window (mostly one slide) keeps its hash;
- it is a plain 64-bit pHash again, so matching is a Hamming distance per window plus sequence matching over
  consecutive windows (the decontamination stage).
"""
from __future__ import annotations

import hashlib
import logging
import os
import time
from collections import deque
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from multiprocessing import get_context

import numpy as np
import polars as pl

from jobs import phash
from jobs.frame_sampling import WINDOW_S, pick_model_frames, window_plan
from jobs.video_decode import Reformatter, VideoError, VideoIndex, decode_frames, index_video

try:  # BLAS threads would fight the decoder threads over the cores; pHash batches are small: one BLAS thread
    from threadpoolctl import threadpool_limits
except ImportError:  # pragma: no cover - threadpoolctl ships with scikit-learn; without it BLAS keeps its default
    threadpool_limits = None

log = logging.getLogger("videokr.frames")
STAGE = "frames"
_BATCH, _IN_FLIGHT = 4, 8          # decoded frames per worker task; tasks queued before the decoder waits
KEEP_KEYFRAMES_BYTES = 64 << 20  # keyframe packets kept from the index pass (saves a second demux when they fit)


@dataclass
class VideoFrames:
    """What one decode of a video yields."""
    index: VideoIndex
    model_frames: list[tuple[float, np.ndarray]] = field(default_factory=list)  # (seconds, RGB uint8), by time
    windows: list[dict] = field(default_factory=list)   # window_index, start_s, end_s, phash, frame_count


def process_video(path, n_model: int = 128, max_fps: float = 2.0, window_s: float | None = WINDOW_S,
                  threads: int = 0) -> VideoFrames:
    """Index `path`, pick model frames (n_model, 0 for none) and window frames (window_s None for none), decode
    the union once, hash the window frames. Raises a VideoError subclass for a bad file."""
    if threadpool_limits is None:
        return _process_video(path, n_model, max_fps, window_s, threads)
    with threadpool_limits(limits=1, user_api="blas"):
        return _process_video(path, n_model, max_fps, window_s, threads)


def _process_video(path, n_model: int, max_fps: float, window_s: float | None, threads: int) -> VideoFrames:
    index = index_video(path, keep_keyframes_bytes=KEEP_KEYFRAMES_BYTES)
    model = pick_model_frames(index, n_model, max_fps)
    plan = window_plan(index, window_s) if window_s else []
    hash_pts = {int(index.pts[p]) for w in plan for p in w["packets"]}
    model_pts = {int(index.pts[p]) for p in model}
    kept: dict[int, np.ndarray] = {}
    hashed: dict[int, int] = {}          # pts -> position in the hasher
    to_rgb, to_rgbx, hasher = Reformatter("rgb24"), Reformatter("rgba"), phash.PHasher()

    def convert_and_hash(batch: list) -> None:   # runs on the worker thread, which alone touches these
        for ts, fr in batch:
            if ts in model_pts:
                kept[ts] = to_rgb(fr)
            if ts in hash_pts:
                hashed[ts] = hasher.add(to_rgbx(fr))

    # This thread only demuxes and feeds the decoder (whose frame threads decode); a worker thread converts and
    # hashes each small batch of decoded frames (swscale, PIL's convert and BLAS release the GIL), so decoding
    # and hashing overlap on 2 cores. At most _IN_FLIGHT batches wait, which bounds the decoded frames held.
    with ThreadPoolExecutor(1, thread_name_prefix="frames-hash") as pool:
        in_flight: deque[Future] = deque()
        batch: list = []
        for item in decode_frames(index, model_pts | hash_pts, threads=threads, fmt=None):
            batch.append(item)
            if len(batch) >= _BATCH:
                in_flight.append(pool.submit(convert_and_hash, batch))
                batch = []
                if len(in_flight) > _IN_FLIGHT:
                    in_flight.popleft().result()
        in_flight.append(pool.submit(convert_and_hash, batch))
        for fut in in_flight:
            fut.result()
    index.key_packets = None   # the compressed keyframes are not needed any more
    values = hasher.hashes()
    hashes = {ts: int(values[i]) for ts, i in hashed.items()}
    out = VideoFrames(index)
    out.model_frames = [(float(index.times[p]), kept[int(index.pts[p])]) for p in sorted(
        model, key=lambda p: index.times[p])]
    for w in plan:
        pts = [int(index.pts[p]) for p in w["packets"]]
        out.windows.append({"window_index": w["window_index"], "start_s": w["start_s"], "end_s": w["end_s"],
                            "phash": phash.majority([hashes[t] for t in pts]), "frame_count": len(set(pts))})
    return out


def sample_frames(path, n: int = 128, max_fps: float = 2.0, threads: int = 0) -> list[tuple[float, np.ndarray]]:
    """Up to n distinct RGB frames for model input, uniform in time, at most max_fps: [(seconds, frame)]."""
    return process_video(path, n_model=n, max_fps=max_fps, window_s=None, threads=threads).model_frames


def window_hashes_for(path, window_s: float = WINDOW_S, threads: int = 0) -> list[dict]:
    """Window hashes of one video file: [{window_index, start_s, end_s, phash (int, uint64), frame_count}].
    Pure function of the file; the decontamination stage uses it for benchmark videos too."""
    return process_video(path, n_model=0, window_s=window_s, threads=threads).windows


def sha256_file(path, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def _file_row(video_id: str, subject_id: str | None, path: str) -> dict:
    size = os.path.getsize(path) if os.path.isfile(path) else None
    return {"video_id": video_id, "subject_id": subject_id, "path": str(path), "bytes": size,
            "sha256": sha256_file(path) if size else None, "codec": None, "width": None, "height": None,
            "fps": None, "duration_s": None, "frames": None, "status": "ok", "error": None}


def probe_and_hash(video_id: str, subject_id: str | None, path: str, window_s: float = WINDOW_S,
                   threads: int = 1) -> dict:
    """Worker: one video -> {"file": video_files row, "windows": [...], "error": None | (reason, message)}.
    Never raises for a bad file: the error is returned so the stage can quarantine it and go on."""
    row = _file_row(video_id, subject_id, path)
    try:
        res = process_video(path, n_model=0, window_s=window_s, threads=threads)
    except VideoError as exc:
        err = (exc.reason, str(exc))
    except Exception as exc:  # an FFmpeg/PyAV failure we did not classify: still one bad item, not a dead stage
        err = ("decode_failed", f"{path}: decode_failed: {type(exc).__name__}: {exc}")
    else:
        row.update(res.index.metadata())
        windows = [{"video_id": video_id, "subject_id": subject_id, **w} for w in res.windows]
        return {"file": row, "windows": windows, "error": None}
    row.update(status="error", error=f"{err[0]}: {err[1]}"[:2000])
    return {"file": row, "windows": [], "error": err}


_FILE_SCHEMA = {"video_id": pl.Utf8, "subject_id": pl.Utf8, "path": pl.Utf8, "bytes": pl.UInt64,
                "sha256": pl.Utf8, "codec": pl.Utf8, "width": pl.Int32, "height": pl.Int32, "fps": pl.Float64,
                "duration_s": pl.Float64, "frames": pl.Int64, "status": pl.Utf8, "error": pl.Utf8}
_WINDOW_SCHEMA = {"video_id": pl.Utf8, "subject_id": pl.Utf8, "window_index": pl.Int32, "start_s": pl.Float64,
                  "end_s": pl.Float64, "phash": pl.UInt64, "frame_count": pl.Int32}


def kept_videos(wh, subjects: list[str] | None, params: dict) -> list[tuple[str, str | None, str]]:
    """(video_id, subject_id, path) to process: params["paths"] ({video_id: path | {path, subject_id}}) when
    given, else screening.decision = 'keep' joined with downloads.path."""
    if params.get("paths"):
        out = []
        for vid, v in sorted(params["paths"].items()):
            path, subj = (v.get("path"), v.get("subject_id")) if isinstance(v, dict) else (v, None)
            if not subjects or subj in subjects:
                out.append((str(vid), subj, str(path)))
        return out
    missing = {"screening", "downloads"} - set(wh.tables())
    if missing:
        raise RuntimeError(f"frames: tables {sorted(missing)} are not declared yet; pass params={{'paths': ...}}")
    sql = """SELECT s.video_id, s.subject_id, d.path FROM screening s JOIN downloads d USING (video_id)
             WHERE s.decision = 'keep' AND d.path IS NOT NULL"""
    args: list = []
    if subjects:
        sql += " AND s.subject_id IN (SELECT unnest(?))"
        args.append(list(subjects))
    df = wh.query(sql + " ORDER BY s.video_id", args)
    return [(r["video_id"], r["subject_id"], r["path"]) for r in df.unique("video_id", keep="first",
                                                                          maintain_order=True).iter_rows(named=True)]


def partitions(settings=None, subjects: list[str] | None = None) -> list[list[str]]:
    """Work partitions for the DAG's mapped tasks: one [subject] per subject with kept videos (only `subjects`
    when given)."""
    from warehouse import Warehouse

    with Warehouse(settings) as wh:
        if {"screening", "downloads"} - set(wh.tables()):
            return []
        df = wh.query("""SELECT DISTINCT s.subject_id FROM screening s JOIN downloads d USING (video_id)
                         WHERE s.decision = 'keep' AND d.path IS NOT NULL AND s.subject_id IS NOT NULL
                         ORDER BY 1""")
    have = df["subject_id"].to_list()
    return [[s] for s in have if not subjects or s in subjects]


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def run(settings=None, subjects: list[str] | None = None, params: dict | None = None) -> dict:
    """Probe and window-hash the kept videos; write video_files and window_hashes per video (replace by video_id);
    quarantine bad files and go on. params: paths, workers (default: cores), write_batch (videos per write),
    window_s."""
    from warehouse import Warehouse, stage_run

    params = dict(params or {})
    window_s = float(params.get("window_s", WINDOW_S))
    batch = int(params.get("write_batch", 200))
    wh = Warehouse(settings)
    try:
        videos = kept_videos(wh, subjects, params)
        workers = max(1, min(int(params.get("workers") or _cores()), len(videos) or 1))
        threads = max(1, _cores() // workers)
        run_params = {k: v for k, v in params.items() if k != "paths"} | {"videos": len(videos)}
        with stage_run(wh, STAGE, scope={"subjects": sorted(subjects or [])}, params=run_params) as srun:
            done: list[dict] = []
            errors = 0
            t0 = time.monotonic()

            def write(chunk: list[dict]) -> None:
                ids = [r["file"]["video_id"] for r in chunk]
                srun.write("video_files", pl.DataFrame([r["file"] for r in chunk], schema=_FILE_SCHEMA),
                           scope={"video_id": ids})
                wins = [w for r in chunk for w in r["windows"]]
                srun.write("window_hashes", pl.DataFrame(wins, schema=_WINDOW_SCHEMA), scope={"video_id": ids})

            def collect(res: dict) -> None:
                nonlocal errors
                if res["error"]:
                    errors += 1
                    srun.quarantine(item=res["file"]["video_id"], reason=res["error"][0], detail=res["error"][1])
                done.append(res)
                if len(done) >= batch:
                    write(done)
                    done.clear()
                if count["n"] % 50 == 0 or count["n"] == len(videos):
                    rate = count["n"] / max(time.monotonic() - t0, 1e-9)
                    log.info("frames: %d/%d videos (%.2f/s), %d bad", count["n"], len(videos), rate, errors)

            count = {"n": 0}
            args = [(vid, subj, path, window_s, threads) for vid, subj, path in videos]
            if workers == 1:
                for a in args:
                    count["n"] += 1
                    collect(probe_and_hash(*a))
            else:
                ctx = get_context("spawn")
                with ProcessPoolExecutor(workers, mp_context=ctx, max_tasks_per_child=200) as pool:
                    futs = [pool.submit(probe_and_hash, *a) for a in args]
                    for f in as_completed(futs):
                        count["n"] += 1
                        collect(f.result())
            if done:
                write(done)
            summary = {"run_id": srun.run_id, "videos": len(videos), "bad": errors, "workers": workers,
                       "rows": dict(srun.rows), "seconds": round(time.monotonic() - t0, 3)}
        log.info("frames: done %s", summary)
        return summary
    finally:
        wh.close()
