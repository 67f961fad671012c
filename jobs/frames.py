"""Frames stage: probe, sha256 and 20-second window hashes of every kept video, and the frame instants every model
will see (jobs/media/model_frames.py) for the configured budgets, stored in `model_frames`.

How a video is decoded once and hashed: jobs/media/windows.py. The stage writes `video_files` (probe + sha256),
`window_hashes` and `model_frames` per video, replacing exactly those videos' rows, with a process pool across
videos sized to the cores.
"""
from __future__ import annotations

import logging
import os
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from multiprocessing import get_context

import polars as pl

from jobs.media.frame_sampling import WINDOW_S
from jobs.media.model_frames import MAX_FPS, MAX_FRAMES, timestamps
from jobs.media.video_decode import VideoError, sha256_file
from jobs.media.windows import HASH_VERSION, hash_video
from warehouse.runs import fingerprint

log = logging.getLogger("videokr.frames")
STAGE = "frames"
CHUNK_SECONDS = 120.0      # a chunk commits after this long even when it holds fewer than write_batch videos


def _file_row(video_id: str, subject_id: str | None, path: str) -> dict:
    size = os.path.getsize(path) if os.path.isfile(path) else None
    return {"video_id": video_id, "subject_id": subject_id, "path": str(path), "bytes": size,
            "sha256": sha256_file(path) if size else None, "codec": None, "width": None, "height": None,
            "fps": None, "duration_s": None, "frames": None, "status": "ok", "error": None}


def frame_budgets(settings, params: dict) -> list[int]:
    """Frame budgets whose instants the stage stores: params["frame_budgets"], else the chat models' frame count
    ([llm.frames] count) and the training budget (MAX_FRAMES)."""
    if params.get("frame_budgets"):
        return sorted({int(b) for b in params["frame_budgets"]})
    from videokr.settings import Settings
    llm = (settings or Settings.load()).section("llm")
    return sorted({int((llm.get("frames") or {}).get("count", 8)), MAX_FRAMES})


def probe_and_hash(video_id: str, subject_id: str | None, path: str, window_s: float = WINDOW_S,
                   threads: int = 1, budgets: tuple[int, ...] = ()) -> dict:
    """Worker: one video -> {"file": video_files row, "windows": [...], "plans": model_frames rows,
    "error": None | (reason, message)}. Never raises for a bad file: the error is returned so the stage can
    quarantine it and go on."""
    row = _file_row(video_id, subject_id, path)
    try:
        res = hash_video(path, window_s=window_s, threads=threads)
    except VideoError as exc:
        err = (exc.reason, str(exc))
    except Exception as exc:  # an FFmpeg/PyAV failure we did not classify: still one bad item, not a dead stage
        err = ("decode_failed", f"{path}: decode_failed: {type(exc).__name__}: {exc}")
    else:
        row.update(res.index.metadata())
        windows = [{"video_id": video_id, "subject_id": subject_id, **w} for w in res.windows]
        plans = [{"video_id": video_id, "subject_id": subject_id, "sha256": row["sha256"], "budget_frames": b,
                  "max_fps": MAX_FPS, "timestamps": timestamps(path, b, MAX_FPS, index=res.index)} for b in budgets]
        return {"file": row, "windows": windows, "plans": plans, "error": None}
    row.update(status="error", error=f"{err[0]}: {err[1]}"[:2000])
    return {"file": row, "windows": [], "plans": [], "error": err}


_FILE_SCHEMA = {"video_id": pl.Utf8, "subject_id": pl.Utf8, "path": pl.Utf8, "bytes": pl.UInt64,
                "sha256": pl.Utf8, "codec": pl.Utf8, "width": pl.Int32, "height": pl.Int32, "fps": pl.Float64,
                "duration_s": pl.Float64, "frames": pl.Int64, "status": pl.Utf8, "error": pl.Utf8}
_PLAN_SCHEMA = {"video_id": pl.Utf8, "subject_id": pl.Utf8, "sha256": pl.Utf8, "budget_frames": pl.Int32,
                "max_fps": pl.Float64, "timestamps": pl.List(pl.Float64)}
_WINDOW_SCHEMA = {"video_id": pl.Utf8, "subject_id": pl.Utf8, "window_index": pl.Int32, "start_s": pl.Float64,
                  "end_s": pl.Float64, "phash": pl.UInt64, "frame_count": pl.Int32, "quality": pl.Int32,
                  "phash2": pl.UInt64}


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


def _die_with_parent(parent: int) -> None:
    """Pool worker initializer: on Linux the kernel kills the worker when the stage process dies (kill -9
    included), so no orphaned decoder runs on. A stage that died before this ran leaves the worker orphaned at once:
    it exits."""
    try:
        import ctypes
        import signal
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, int(signal.SIGKILL))   # PR_SET_PDEATHSIG
    except (OSError, AttributeError, TypeError, ValueError):   # not Linux: the pool's own shutdown still applies
        pass
    if os.getppid() != parent:
        os._exit(1)


def file_fingerprint(path: str, window_s: float, budgets: tuple[int, ...]) -> str:
    """What decides a video's outputs, known without reading it: path, size, mtime, window length, frame budgets,
    and the window-hash version (a new hash definition re-hashes every video once)."""
    try:
        st = os.stat(path)
        stamp = (st.st_size, st.st_mtime_ns)
    except (OSError, ValueError):     # missing, unreadable, or not a path at all (an embedded NUL): quarantined later
        stamp = None
    return fingerprint(str(path), stamp, window_s, list(budgets), HASH_VERSION)


def run(settings=None, subjects: list[str] | None = None, params: dict | None = None) -> dict:
    """Probe and window-hash the kept videos whose file changed (or is new); write video_files, window_hashes and
    model_frames per video (replace by video_id); quarantine bad files and go on. Each committed chunk (write_batch
    videos, or CHUNK_SECONDS) holds those tables' rows, the quarantine rows and the videos' fingerprints.
    params: paths, workers (default: cores), write_batch (videos per chunk), window_s, frame_budgets."""
    from warehouse import Warehouse, stage_run

    params = dict(params or {})
    window_s = float(params.get("window_s", WINDOW_S))
    batch = int(params.get("write_batch", 200))
    wh = Warehouse(settings)
    try:
        videos = kept_videos(wh, subjects, params)
        budgets = tuple(frame_budgets(settings, params))
        run_params = {k: v for k, v in params.items() if k != "paths"} | {"videos": len(videos)}
        with stage_run(wh, STAGE, scope={"subjects": sorted(subjects or [])}, params=run_params) as srun:
            fps = {vid: (file_fingerprint(path, window_s, budgets), subj) for vid, subj, path in videos}
            have = srun.fingerprints(list(fps))
            todo = [v for v in videos if have.get(v[0]) != fps[v[0]][0]]
            srun.skipped = len(videos) - len(todo)
            workers = max(1, min(int(params.get("workers") or _cores()), len(todo) or 1))
            threads = max(1, _cores() // workers)
            log.info("frames: %d videos in scope, %d unchanged (skipped), %d to process", len(videos),
                     srun.skipped, len(todo))
            done: list[dict] = []
            errors = 0
            t0 = last = time.monotonic()

            def write(chunk: list[dict]) -> None:
                ids = [r["file"]["video_id"] for r in chunk]
                with srun.chunk():
                    srun.write("video_files", pl.DataFrame([r["file"] for r in chunk], schema=_FILE_SCHEMA),
                               scope={"video_id": ids})
                    wins = [w for r in chunk for w in r["windows"]]
                    srun.write("window_hashes", pl.DataFrame(wins, schema=_WINDOW_SCHEMA), scope={"video_id": ids})
                    plans = [p for r in chunk for p in r["plans"]]
                    srun.write("model_frames", pl.DataFrame(plans, schema=_PLAN_SCHEMA), scope={"video_id": ids})
                    for r in chunk:
                        if r["error"]:
                            srun.quarantine(item=r["file"]["video_id"], reason=r["error"][0], detail=r["error"][1])
                    srun.mark_done({vid: fps[vid] for vid in ids})   # a bad file stays bad until it changes

            def collect(res: dict) -> None:
                nonlocal errors, last
                errors += bool(res["error"])
                done.append(res)
                if len(done) >= batch or time.monotonic() - last >= CHUNK_SECONDS:
                    write(done)
                    done.clear()
                    last = time.monotonic()
                if count["n"] % 50 == 0 or count["n"] == len(todo):
                    rate = count["n"] / max(time.monotonic() - t0, 1e-9)
                    log.info("frames: %d/%d videos (%.2f/s), %d bad", count["n"], len(todo), rate, errors)

            count = {"n": 0}
            args = [(vid, subj, path, window_s, threads, budgets) for vid, subj, path in todo]
            if workers == 1:
                for a in args:
                    count["n"] += 1
                    collect(probe_and_hash(*a))
            else:
                ctx = get_context("spawn")
                with ProcessPoolExecutor(workers, mp_context=ctx, max_tasks_per_child=200,
                                         initializer=_die_with_parent, initargs=(os.getpid(),)) as pool:
                    futs = [pool.submit(probe_and_hash, *a) for a in args]
                    for f in as_completed(futs):
                        count["n"] += 1
                        collect(f.result())
            if done:
                write(done)
            summary = {"run_id": srun.run_id, "videos": len(videos), "processed": len(todo), "bad": errors,
                       "skipped": srun.skipped, "workers": workers, "rows": dict(srun.rows),
                       "changed": srun.changed,
                       "seconds": round(time.monotonic() - t0, 3)}
        log.info("frames: done %s", summary)
        return summary
    finally:
        wh.close()
