"""Benchmark: near-duplicate search, 2.5M corpus windows vs 50K benchmark windows (run: python tests/benchmarks/bench_neardup.py).

Random 64-bit window hashes (50 windows per video). Planted copies: `--planted` benchmark videos are copied into
corpus videos with up to t random bit flips per window, a time shift (trim) and a dropped tail. Measures:
- ours: the banded equi-join + bit_count filter (sql/queries/neardup_pairs.sql) and the sequence matching
  (neardup_sequences.sql), on an in-memory DuckDB; window-pair recall and video recall of the planted copies;
- numpy brute force (xor + bitwise_count) over a corpus subset, extrapolated to the full corpus.
"""
from __future__ import annotations

import argparse
import os
import time

import duckdb
import numpy as np
import pyarrow as pa

from jobs.dedup.neardup import NearDupParams, candidate_pairs, sequence_matches

WIN = 20.0


def make_data(n_corpus: int, n_bench: int, per_video: int, planted: int, t: int, seed: int):
    rng = np.random.default_rng(seed)
    c_hash = rng.integers(0, 2**64, size=n_corpus, dtype=np.uint64)
    b_hash = rng.integers(0, 2**64, size=n_bench, dtype=np.uint64)
    c_vid = np.arange(n_corpus) // per_video
    b_vid = np.arange(n_bench) // per_video
    c_idx = np.arange(n_corpus) % per_video
    b_idx = np.arange(n_bench) % per_video
    c_start = c_idx * WIN
    truth = []   # (corpus video, bench video, corpus row, bench row)
    pick_b = rng.choice(n_bench // per_video, planted, replace=False)
    pick_c = rng.choice(n_corpus // per_video, planted, replace=False)
    for bv, cv in zip(pick_b, pick_c):
        shift = int(rng.integers(0, 5))            # copy starts `shift` windows into the original (trimmed)
        keep = per_video - shift - int(rng.integers(0, 5))
        trim_s = float(rng.uniform(0, 3))          # sub-window trim: start times shift too
        for j in range(keep):
            b_row, c_row = bv * per_video + shift + j, cv * per_video + j
            h = int(b_hash[b_row])
            for bit in rng.choice(64, int(rng.integers(0, t + 1)), replace=False):
                h ^= 1 << int(bit)
            c_hash[c_row] = np.uint64(h)
            c_start[c_row] = j * WIN + trim_s
            truth.append((cv, bv, c_row, b_row))
    corpus = pa.table({"video_id": pa.array([f"c{v:07d}" for v in c_vid]), "window_index": c_idx.astype(np.int32),
                       "start_s": c_start.astype(np.float64), "phash": c_hash})
    bench = pa.table({"benchmark": pa.array(["bench"] * n_bench), "bench_video_id": [f"b{v:06d}" for v in b_vid],
                      "item_id": [f"item{v:06d}" for v in b_vid], "window_index": b_idx.astype(np.int32),
                      "start_s": (b_idx * WIN).astype(np.float64), "phash": b_hash})
    return corpus, bench, c_hash, b_hash, truth


def brute_force(c_hash, b_hash, t, rows: np.ndarray, chunk=256):
    found = set()
    for i in range(0, len(rows), chunk):
        sel = rows[i:i + chunk]
        d = np.bitwise_count(c_hash[sel, None] ^ b_hash[None, :])
        ci, bi = np.nonzero(d <= t)
        found.update(zip(sel[ci].tolist(), bi.tolist()))
    return found


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--corpus", type=int, default=2_500_000)
    ap.add_argument("--bench", type=int, default=50_000)
    ap.add_argument("--per-video", type=int, default=50)
    ap.add_argument("--planted", type=int, default=200)
    ap.add_argument("--t", type=int, nargs="+", default=[3, 4])
    ap.add_argument("--k", type=int, default=3)
    ap.add_argument("--subset", type=int, default=20_000, help="corpus windows for brute force")
    ap.add_argument("--threads", type=int, default=0, help="DuckDB threads (0: default)")
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    print(f"corpus {a.corpus:,} windows, benchmark {a.bench:,} windows, {a.planted} planted copies, "
          f"cpus={os.cpu_count()}, duckdb {duckdb.__version__}")
    for t in a.t:
        corpus, bench, c_hash, b_hash, truth = make_data(a.corpus, a.bench, a.per_video, a.planted, t, a.seed)
        con = duckdb.connect()
        if a.threads:
            con.execute(f"SET threads = {a.threads}")
        con.register("c_arrow", corpus)
        con.register("b_arrow", bench)
        con.execute("CREATE TEMP TABLE _corpus_windows AS SELECT * FROM c_arrow")
        con.execute("CREATE TEMP TABLE _bench_windows AS SELECT * FROM b_arrow")
        p = NearDupParams(t=t, k=a.k)
        t0 = time.perf_counter()
        n_pairs = candidate_pairs(con, t)
        t1 = time.perf_counter()
        matches = sequence_matches(con, p)
        t2 = time.perf_counter()
        got_pairs = set(con.execute("SELECT video_id, window_index, bench_video_id, bench_window FROM _pairs").fetchall())
        want_pairs = {(f"c{cv:07d}", int(cr % a.per_video), f"b{bv:06d}", int(br % a.per_video))
                      for cv, bv, cr, br in truth}
        pair_recall = len(want_pairs & got_pairs) / len(want_pairs)
        want_videos = {(f"c{cv:07d}", f"b{bv:06d}") for cv, bv, _, _ in truth}
        got_videos = set(zip(matches["video_id"].to_list(), matches["bench_video_id"].to_list()))
        video_recall = len(want_videos & got_videos) / len(want_videos)
        false_videos = len(got_videos - want_videos)
        print(f"\n[t={t}, {t + 1} bands, k={a.k}] ours: pairs {t1 - t0:.3f} s ({n_pairs:,} pairs within t), "
              f"sequences {t2 - t1:.3f} s, total {t2 - t0:.3f} s")
        print(f"  planted window-pair recall {pair_recall:.4%}, planted video recall {video_recall:.2%} "
              f"({len(got_videos & want_videos)}/{len(want_videos)}), false video matches {false_videos}")
        rng = np.random.default_rng(a.seed + 1)
        planted_rows = np.array(sorted({cr for _, _, cr, _ in truth}))
        rows = np.unique(np.concatenate([rng.choice(a.corpus, a.subset - min(a.subset // 10, len(planted_rows)),
                                                    replace=False),
                                         planted_rows[:a.subset // 10]]))
        t3 = time.perf_counter()
        bf = brute_force(c_hash, b_hash, t, rows)
        t4 = time.perf_counter()
        want_sub = {(cr, br) for _, _, cr, br in truth if cr in set(rows.tolist())}
        bf_recall = len(want_sub & bf) / max(1, len(want_sub))
        print(f"  numpy brute force: {len(rows):,} corpus windows x {a.bench:,} in {t4 - t3:.2f} s -> "
              f"extrapolated {(t4 - t3) * a.corpus / len(rows):.1f} s for {a.corpus:,}; recall on subset {bf_recall:.2%}")
        print(f"  RATIO brute force / ours, same run: {(t4 - t3) * a.corpus / len(rows) / (t2 - t0):,.0f}x "
              f"(goal: ours <= 1 s: {'met' if t2 - t0 <= 1 else 'NOT met'})")
        con.close()


if __name__ == "__main__":
    main()
