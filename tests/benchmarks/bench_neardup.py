"""Benchmark: near-duplicate search with the real benchmark-side hashing (run: python tests/benchmarks/bench_neardup.py).

1. Quality, on the transformation set (tests/neardup_world.py): benchmark lectures, copies of them (every transform
   kind, shifts 0-19 s) and same-template negatives (black intros/outros, fades, title cards), hashed through
   jobs.media.windows (1 s starts on the benchmark side, the fixed grid on the corpus side). Prints recall and false
   matches for t = 2..10 at the other default parameters, so the default t is chosen from data; plus the copies
   with every transform stacked at its maximum ("stacked", not part of the goal).
2. Speed: 2.5M corpus windows (random hashes plus the transformation set's corpus) against the windows of ~2,000
   benchmark lectures hashed at 1 s starts, in an in-memory DuckDB (jobs.dedup.neardup.near_duplicates: evidence
   filter, seed join, sequence verification); goal <= 2 s on 2 cores. Baseline in the same run: numpy brute force
   (xor + bitwise_count of both half hashes of every corpus window against every benchmark window) over a corpus
   subset, extrapolated.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import duckdb
import numpy as np
import polars as pl

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from jobs.dedup.neardup import NearDupParams, near_duplicates  # noqa: E402
from tests import neardup_world as nw  # noqa: E402


def quality(a) -> dict:
    t0 = time.perf_counter()
    w = nw.build(a.bench_q, a.copies, a.negatives, seed=a.seed)
    r = np.random.default_rng(a.seed + 7)
    stacked = [nw.Video(f"copy9{i:04d}_stacked", b.lec, nw.make_transform("stacked", r, b.lec.duration_s), b.video_id)
               for i, b in enumerate(w.bench[:a.stacked])]
    grids = {v.video_id: v.grid() for v in w.bench + w.copies + w.negatives + stacked}
    print(f"transformation set: {len(w.bench)} benchmark lectures, {len(w.copies)} copies, {len(w.negatives)} "
          f"negatives, {len(stacked)} stacked copies; built and hashed in {time.perf_counter() - t0:.1f} s")
    con = duckdb.connect()
    nw.load(con, nw.corpus_rows(w.copies + w.negatives + stacked, grids), nw.bench_rows(w.bench, grids))
    print(f"{'t':>3} {'recall':>8} {'missed':>7} {'false':>6} {'stacked recall':>15}  missed kinds")
    for t in range(2, 11):
        found = near_duplicates(con, NearDupParams(t=t))
        s = nw.score(found, w.copies, w.negatives)
        st = nw.score(found, stacked, [])
        kinds = sorted({m.split("_")[1] for m in s["missed"]})
        mark = "  <- default" if t == NearDupParams().t else ""
        print(f"{t:>3} {s['recall']:>8.2%} {len(s['missed']):>7} {len(s['false']) + len(s['wrong_original']):>6} "
              f"{st['recall']:>15.2%}  {kinds}{mark}")
    return {"corpus": nw.corpus_rows(w.copies + w.negatives, grids)}


def speed(a, extra_corpus: list[dict]) -> None:
    t0 = time.perf_counter()
    w = nw.build(a.bench, 0, 0, seed=a.seed + 1, duration_s=(30.0, 120.0))
    bench = nw.bench_rows(w.bench)
    print(f"\nbenchmark side: {len(w.bench):,} lectures -> {len(bench):,} windows (1 s starts), hashed in "
          f"{time.perf_counter() - t0:.1f} s")
    rng = np.random.default_rng(a.seed)
    n_rand = a.corpus - len(extra_corpus)
    per = 50
    vid = np.arange(n_rand) // per
    idx = (np.arange(n_rand) % per).astype(np.int32)
    rand = pl.DataFrame({"video_id": pl.Series([f"r{v:07d}" for v in vid]), "window_index": idx,
                         "start_s": idx * 20.0, "end_s": idx * 20.0 + 20.0,
                         "phash": pl.Series(rng.integers(0, 2**64, n_rand, dtype=np.uint64), dtype=pl.UInt64),
                         "phash2": pl.Series(rng.integers(0, 2**64, n_rand, dtype=np.uint64), dtype=pl.UInt64),
                         "quality": pl.Series(np.full(n_rand, 100, np.int32))})
    extra = pl.DataFrame(extra_corpus).select(rand.columns).cast(rand.schema)
    corpus = pl.concat([rand, extra])
    bench_df = pl.DataFrame(bench, schema_overrides={"phash": pl.UInt64, "phash2": pl.UInt64, "window_index": pl.Int32,
                                                     "quality": pl.Int32})
    con = duckdb.connect()
    if a.threads:
        con.execute(f"SET threads = {a.threads}")
    con.execute("CREATE TEMP TABLE _corpus_src AS SELECT * FROM corpus")
    con.execute("CREATE TEMP TABLE _bench_src AS SELECT * FROM bench_df")
    p = NearDupParams()
    times = []
    for _ in range(a.repeat):
        t1 = time.perf_counter()
        found = near_duplicates(con, p)
        times.append(time.perf_counter() - t1)
    ours = min(times)
    print(f"ours: {corpus.height:,} corpus windows x {len(bench):,} benchmark windows, t={p.t}, k={p.k}: "
          f"{ours:.3f} s (best of {a.repeat}: {', '.join(f'{x:.2f}' for x in times)}), {found.height} matches")
    c_hash, c_hash2 = corpus["phash"].to_numpy(), corpus["phash2"].to_numpy()
    b_hash, b_hash2 = bench_df["phash"].to_numpy(), bench_df["phash2"].to_numpy()
    rows = rng.choice(len(c_hash), a.subset, replace=False)
    t2 = time.perf_counter()
    hits = 0
    for i in range(0, len(rows), 256):    # the window distance: both halves' bits, mean <= t  <=>  sum <= 2 t
        r = rows[i:i + 256, None]
        d = np.bitwise_count(c_hash[r] ^ b_hash[None, :]) + np.bitwise_count(c_hash2[r] ^ b_hash2[None, :])
        hits += int((d <= 2 * p.t).sum())
    bf = (time.perf_counter() - t2) * len(c_hash) / len(rows)
    print(f"numpy brute force (window pairs within t only, no sequence step): {a.subset:,} corpus windows in "
          f"{time.perf_counter() - t2:.2f} s -> extrapolated {bf:.1f} s for {len(c_hash):,}")
    print(f"RATIO brute force / ours, same run: {bf / ours:,.0f}x (goal: ours <= 2 s: "
          f"{'met' if ours <= 2 else 'NOT met'}; cpus={os.cpu_count()}, duckdb {duckdb.__version__})")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--corpus", type=int, default=2_500_000)
    ap.add_argument("--bench", type=int, default=2_000, help="benchmark lectures for the speed run")
    ap.add_argument("--bench-q", type=int, default=50, help="benchmark lectures of the transformation set")
    ap.add_argument("--copies", type=int, default=120)
    ap.add_argument("--negatives", type=int, default=1_000)
    ap.add_argument("--stacked", type=int, default=20)
    ap.add_argument("--subset", type=int, default=5_000, help="corpus windows for brute force")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--threads", type=int, default=0, help="DuckDB threads (0: default)")
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    q = quality(a)
    speed(a, q["corpus"])


if __name__ == "__main__":
    main()
