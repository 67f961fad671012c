"""Benchmark: the frames job on a 6-minute H.264 640x360 lecture video with a keyframe every 2 s.

    .venv/bin/python tests/benchmarks/bench_frames.py [--seconds 360] [--repeats 3] [--video PATH]

Runs in one process, on the same file:
  (a) naive: OpenCV reads every frame; keeps 128 uniform model frames; imagehash's thumbnail (PIL gray, 32x32
      Lanczos) of the frame nearest each 1 Hz grid point; per 20-s window the pHash of each half's mean thumbnail
      (the window code of jobs.media.windows);
  (b) ours: jobs.media.windows.hash_video (window hashes: selective PyAV decode, batched pHash) plus
      jobs.media.model_frames.load (the 128 model frames, decoded by the one model-frames path).
(a) and (b) alternate (a, b, a, b, ...) so both see the same load on a shared machine. Prints seconds per
video-minute for both (best and median of --repeats), their ratio (best/best, median/median, per adjacent pair,
and of CPU time), pHash ms/frame ours vs imagehash, and the load average before and after.
The video comes from the sample world (jobs.sources.sample.render.render_benchmark_lecture) when available,
else from tests/unit/frames_media.py; it is cached under $VIDEOKR_BENCH_DIR (default /tmp/videokr-bench).
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import cv2  # noqa: E402
import imagehash  # noqa: E402
import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

from jobs.media import model_frames, phash, windows  # noqa: E402
from jobs.media.frame_sampling import model_targets  # noqa: E402


def bench_video(seconds: float) -> tuple[Path, str]:
    d = Path(os.environ.get("VIDEOKR_BENCH_DIR", "/tmp/videokr-bench"))
    d.mkdir(parents=True, exist_ok=True)
    try:
        from jobs.sources.sample.render import render_benchmark_lecture
        path, how = d / f"lecture_{int(seconds)}s_sample.mp4", "sample world render_benchmark_lecture"
        if not path.exists():
            render_benchmark_lecture(path.with_suffix(".tmp.mp4"), seconds=seconds, gop_seconds=2.0).rename(path)
    except ImportError:
        from tests.unit.frames_media import render_video
        path, how = d / f"lecture_{int(seconds)}s_own.mp4", "tests/unit/frames_media.render_video (fallback)"
        if not path.exists():
            render_video(path.with_suffix(".tmp.mp4"), seconds=seconds, fps=30, size=(640, 360), gop_s=2.0,
                         preset="veryfast").rename(path)
    return path, how


def naive(path: Path, n_model: int = 128, window_s: float = 20.0) -> dict:
    cap = cv2.VideoCapture(str(path))
    fps = cap.get(cv2.CAP_PROP_FPS)
    total = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
    duration = total / fps
    model_idx = set(np.rint(model_targets(duration, n_model, 2.0, total) * fps - 0.5).astype(int).tolist())
    grid_idx = {}
    for w in range(int(np.ceil(duration / window_s))):
        for t in np.arange(w * window_s + 0.5, min((w + 1) * window_s, duration), 1.0):
            grid_idx[min(int(round(t * fps)), total - 1)] = w
    kept, hashes, i = [], {}, 0
    while True:
        ok, bgr = cap.read()
        if not ok:
            break
        if i in model_idx:
            kept.append(bgr.copy())
        if i in grid_idx:
            rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
            small = Image.fromarray(rgb).convert("L").resize((32, 32), Image.Resampling.LANCZOS)
            hashes.setdefault(grid_idx[i], []).append(np.asarray(small, dtype=np.float64))
        i += 1
    cap.release()
    codes = []
    for w in sorted(hashes):
        t, half = np.stack(hashes[w]), (len(hashes[w]) + 1) // 2
        codes.append(tuple(phash.phash_small(np.stack([t[:half].mean(0), t[half:].mean(0)])).tolist()))
    return {"frames_read": i, "model": len(kept), "windows": codes,
            "duration": duration, "hashed": sum(len(v) for v in hashes.values())}


def ours(path: Path) -> dict:
    res = windows.hash_video(path)
    clip = model_frames.load(path, model_frames.Budget(frames=128))
    return {"model": len(clip.timestamps), "windows": [(w["phash"], w["phash2"]) for w in res.windows],
            "duration": res.index.duration_s, "hashed": sum(w["frame_count"] for w in res.windows)}


def timed(fn, repeats: int):
    times, out = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return out, times


def interleaved(fns, repeats: int):
    """Run the functions in turn, `repeats` rounds: (last outputs, wall times per function, CPU times per function;
    CPU time counts every thread of the process)."""
    outs, walls, cpus = [None] * len(fns), [[] for _ in fns], [[] for _ in fns]
    for _ in range(repeats):
        for i, fn in enumerate(fns):
            t0, c0 = time.perf_counter(), time.process_time()
            outs[i] = fn()
            walls[i].append(time.perf_counter() - t0)
            cpus[i].append(time.process_time() - c0)
    return outs, walls, cpus


def hash_speed(path: Path, n: int = 240, repeats: int = 3) -> dict:
    """ms/frame: imagehash on RGB arrays; ours on the same RGB arrays; ours as the stage runs it (decoded frame ->
    RGBX -> pHash, conversion included). Frames: every 3rd decoded frame (varied content)."""
    import av

    from jobs.media.video_decode import Reformatter
    with av.open(str(path)) as c:
        decoded = [f for i, f in zip(range(3 * n), c.decode(c.streams.video[0])) if i % 3 == 0]
    rgb = [f.to_ndarray(format="rgb24") for f in decoded]
    to_rgbx = Reformatter("rgba")
    from threadpoolctl import threadpool_limits
    with threadpool_limits(limits=1, user_api="blas"):   # as jobs.media.windows.hash_video runs it
        ours, t_ours = timed(lambda: phash.phash_frames(rgb), repeats)
        job, t_job = timed(lambda: phash.phash_frames([to_rgbx(f) for f in decoded]), repeats)
    ref, t_ref = timed(lambda: [imagehash.phash(Image.fromarray(a)) for a in rgb], repeats)
    ref = [phash.imagehash_int(h) for h in ref]
    return {"ours": min(t_ours) / len(rgb) * 1e3, "job": min(t_job) / len(rgb) * 1e3,
            "imagehash": min(t_ref) / len(rgb) * 1e3, "same": ours.tolist() == ref and job.tolist() == ref}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=360)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--video", type=Path)
    args = ap.parse_args()
    load0 = os.getloadavg()[:3]
    t0 = time.perf_counter()
    path, how = (args.video, "given") if args.video else bench_video(args.seconds)
    print(f"video: {path} ({how}; ready in {time.perf_counter() - t0:.1f}s), {path.stat().st_size / 1e6:.1f} MB, "
          f"cpus={len(os.sched_getaffinity(0))}")
    ours(path)  # warm-up (imports, page cache)
    # (a) and (b) alternate, so that both see the same moments of a shared machine's load
    (a, b), (ta, tb), (ca, cb) = interleaved([lambda: naive(path), lambda: ours(path)], args.repeats)
    minutes = b["duration"] / 60
    print(f"duration {b['duration']:.1f}s; naive read {a['frames_read']} frames, hashed {a['hashed']}; "
          f"ours: {b['model']} model frames, {len(b['windows'])} windows ({b['hashed']} distinct frames hashed)")
    for name, ts, cs in (("(a) naive OpenCV read-all + imagehash", ta, ca), ("(b) ours", tb, cb)):
        print(f"{name:40s} best {min(ts) / minutes:.3f} s/video-min  median {statistics.median(ts) / minutes:.3f}"
              f"  runs {[round(t, 3) for t in ts]}  cpu {[round(c, 3) for c in cs]}")
    pairs = [round(x / y, 1) for x, y in zip(ta, tb)]
    med = statistics.median
    print(f"ratio (a)/(b): best {min(ta) / min(tb):.1f}x  median {med(ta) / med(tb):.1f}x  per adjacent pair {pairs}"
          f"  cpu-time {med(ca) / med(cb):.1f}x")
    dist = [(phash.hamming(x[0], y[0]) + phash.hamming(x[1], y[1])) / 2 for x, y in zip(a["windows"], b["windows"])]
    print(f"window hashes (a) exact 1 Hz frames vs (b) keyframes: mean Hamming {np.mean(dist):.2f}, max {max(dist)}")
    h = hash_speed(path)
    print(f"pHash ms/frame (640x360): imagehash {h['imagehash']:.3f} | ours on the same RGB arrays {h['ours']:.3f} "
          f"({h['imagehash'] / h['ours']:.2f}x) | ours as the job runs it, decoded frame -> RGBX -> hash "
          f"{h['job']:.3f} ({h['imagehash'] / h['job']:.2f}x) | bit-identical={h['same']}")
    print(f"load average before/after: {load0} / {os.getloadavg()[:3]}")


if __name__ == "__main__":
    main()
