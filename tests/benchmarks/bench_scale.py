"""Benchmark: the warehouse and the dataset stages at a fraction f of the paper's scale (run: python tests/benchmarks/bench_scale.py).

Builds a synthetic warehouse in a temp VIDEOKR_HOME (own SQLite catalog and data path) through the project's own
write path (`Warehouse.write` / `write_many`), scoped as the stages scope their writes: per subject, the bank tables,
videos and downloads (scope subject_id, one transaction); then per chunk of `--chunk-videos` videos (generate's
default 50) three transactions like frames / generate / verify commit them (video_files + window_hashes scoped by
video_id; candidates scoped by video_id + their generation llm_calls; checks + verified_qa scoped by candidate_id +
their llm_calls). Paper scale (f=1): 82 subjects, 63,745 knowledge points, 145K videos, ~17 window hashes per video,
~1M candidates (7 per video, think ~600 chars, question ~120 chars), 315K verified (31.5% pass), 3 checks per
candidate (~3M), ~4M llm_calls. Rows are spread over 82 subjects from f=0.1 up (4 at f=0.001, 8 at f=0.01, so the
default run stays within minutes: each commit costs ~0.1-0.4 s on a SQLite catalog; --subjects overrides), so the
one-subject backfill is 1/4 or 1/8 of the data at the default fractions. Content is generated deterministically
from `--seed`, outside the timings.

Measures, per f, wall time and peak RSS of this process (psutil sampled every 20 ms; ru_maxrss at the end):
  first load; an identical rerun of the same writes (goal <= 0.05 of the first load); a one-subject backfill of the
  biggest tables with changed content (goal <= 1/20 of the first load); decontaminate (jobs.decontaminate.run offline:
  no registry load, no sample videos; synthetic benchmark_windows with planted copies), split (jobs.split.run),
  export of all formats (jobs.export.run into a temp dir); every analyst view (SELECT * FROM v_*) alone and while a
  writer process commits; the Parquet file count and query latency after 50 small scoped writes, then after
  `warehouse.upkeep.maintain(wh, older_than_hours=0)`. Prints a table per f, the growth between fractions and a
  linear extrapolation (through the two largest fractions) to f=1 and f=10.

The synthetic data model lives in scale_world.py beside this file.

    .venv/bin/python tests/benchmarks/bench_scale.py                          # --fractions 0.001 0.01 (a few minutes)
    .venv/bin/python tests/benchmarks/bench_scale.py --fractions 0.01 0.1 1   # a bigger machine (f=1: ~10 GB RAM+)
"""
from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import random
import resource
import sys
import tempfile
import threading
import time
from contextlib import contextmanager
from datetime import datetime
from itertools import pairwise
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import polars as pl
from scale_world import (WRITE_MODEL, Pools, _call, _h, bench_windows, df, n_subjects,  # noqa: E402
                         subject_data, transactions)
import scale_world  # noqa: E402


def _fps(stage: str, items: dict[str, object], sid: str) -> list[dict]:
    from warehouse.runs import fingerprint
    return [{"stage": stage, "item": k, "subject_id": sid, "fingerprint": fingerprint(v)} for k, v in items.items()]


def _committed(wh, rows: list[dict]) -> dict[str, str]:
    """One keyed lookup of the committed fingerprints of a stage's items (as a stage does for its whole scope)."""
    if not rows:
        return {}
    return dict(wh.con.execute("SELECT item, fingerprint FROM item_fingerprints WHERE stage = ? AND item IN "
                               "(SELECT unnest(?::VARCHAR[]))", [rows[0]["stage"], [r["item"] for r in rows]]
                               ).fetchall())


def _same(have: dict[str, str], rows: list[dict]) -> bool:
    return all(have.get(r["item"]) == r["fingerprint"] for r in rows)


BANK_TABLES = ("subjects", "courses", "lectures", "knowledge_points", "videos", "downloads")


def write_subject(wh, d: dict, run_id: str, skip_unchanged: bool = False, ledger: bool = True) -> int:
    """A subject's writes, as the stages commit them (with their items' fingerprints); returns the number of
    transactions. `skip_unchanged`: as the stages rerun, each stage looks its scope's fingerprints up once and
    writes no chunk whose items' fingerprints are unchanged (knowledge_bank: per subject). `ledger=False`: the
    calls were cache hits (a rewrite), which are not ledger rows."""
    sid, kb = d["subject_id"], d["kb"]
    bank_fp = _fps("knowledge_bank", {sid: [kb[t] for t in BANK_TABLES]}, sid)
    n = 0
    if not (skip_unchanged and _same(_committed(wh, bank_fp), bank_fp)):
        wh.write_many([(t, df(kb[t]), run_id, {"subject_id": [sid]}) for t in BANK_TABLES]
                      + [("item_fingerprints", df(bank_fp), run_id, None)])
        n += 1
    plans = []
    for ch in d["chunks"]:
        vids = [r["video_id"] for r in ch["video_files"]]
        plans.append((ch, vids, _fps("generate", {v: [c for c in ch["candidates"] if c["video_id"] == v]
                                                  for v in vids}, sid),
                      _fps("verify", {c["candidate_id"]: c for c in ch["candidates"]}, sid)))
    have_gen = _committed(wh, [r for p in plans for r in p[2]]) if skip_unchanged else {}
    have_ver = _committed(wh, [r for p in plans for r in p[3]]) if skip_unchanged else {}
    for ch, vids, gen_fp, ver_fp in plans:
        if skip_unchanged and _same(have_gen, gen_fp) and _same(have_ver, ver_fp):
            continue
        cids = [r["candidate_id"] for r in ch["candidates"]]
        wh.write_many([("video_files", df(ch["video_files"]), run_id, {"video_id": vids}),
                       ("window_hashes", df(ch["window_hashes"]), run_id, {"video_id": vids})])
        wh.write_many([("candidates", df(ch["candidates"]), run_id, {"video_id": vids}),
                       *([("llm_calls", df(ch["gen_calls"]), run_id, None, True)] if ledger else []),
                       ("item_fingerprints", df(gen_fp), run_id, None)])
        verified = df(ch["verified_qa"]) if ch["verified_qa"] else pl.DataFrame(schema={"candidate_id": pl.Utf8})
        wh.write_many([("checks", df(ch["checks"]), run_id, {"candidate_id": cids}),
                       ("verified_qa", verified, run_id, {"candidate_id": cids}),
                       *([("llm_calls", df(ch["check_calls"]), run_id, None, True)] if ledger else []),
                       ("item_fingerprints", df(ver_fp), run_id, None)])
        n += 3
    return n


class Probe:
    """Wall time and peak RSS (psutil sampled every 20 ms, else ru_maxrss) of the phases run under `phase`."""
    def __init__(self):
        try:
            import psutil
            self._proc = psutil.Process()
        except ImportError:
            self._proc = None
        self.rows: dict[str, tuple[float, float, str]] = {}
        self.subjects = 0

    def _rss(self) -> float:
        if self._proc is not None:
            return self._proc.memory_info().rss / 2**20
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    @contextmanager
    def phase(self, name: str, detail: str = ""):
        peak, stop = [self._rss()], threading.Event()

        def sample():
            while not stop.wait(0.02):
                peak[0] = max(peak[0], self._rss())
        th = threading.Thread(target=sample, daemon=True)
        th.start()
        info = {"detail": detail}
        t0 = time.perf_counter()
        try:
            yield info
        finally:
            dt = time.perf_counter() - t0
            stop.set()
            th.join()
            self.rows[name] = (dt, max(peak[0], self._rss()), info["detail"])


def writer_proc(home: str, ready, stop, done) -> None:
    """Another process's writes while analysts query: llm_calls batches and one subject's candidates rewritten."""
    from videokr.settings import Settings
    from warehouse import Warehouse
    wh = Warehouse(Settings.load(home=Path(home)))
    rng, n, now = random.Random(7), 0, datetime(2025, 1, 2)
    cands = wh.query("SELECT * EXCLUDE (run_id) FROM candidates WHERE subject_id = 'subject-01'")
    ready.set()
    while not stop.is_set():
        wh.write("llm_calls", pl.DataFrame([_call(_h("w", n, i, n=64), "judge", "judge", rng, now)
                                            for i in range(500)]), f"writer-{n}")
        vids = cands["video_id"].unique().to_list()
        wh.write("candidates", cands.with_columns(pl.col("model") + f"-w{n}"), f"writer-{n}", {"video_id": vids})
        n += 2
    done.value = n
    wh.close()


def view_times(wh, views: list[str]) -> dict[str, float]:
    out = {}
    for v in views:
        t0 = time.perf_counter()
        wh.query(f"SELECT * FROM {v}")
        out[v] = time.perf_counter() - t0
    return out


def latency(wh, sql: str, repeat: int = 3) -> float:
    ts = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        wh.query(sql)
        ts.append(time.perf_counter() - t0)
    return sorted(ts)[len(ts) // 2]


def run_fraction(f: float, seed: int, n_sub: int) -> Probe:
    from jobs import decontaminate, split
    from jobs import export as export_job
    from videokr.settings import SQL_DIR, Settings
    from warehouse import Warehouse, upkeep

    probe, pools = Probe(), Pools(seed)
    tmp = tempfile.TemporaryDirectory(prefix=f"bench_scale_{f}_")
    home = Path(tmp.name)
    os.environ["VIDEOKR_HOME"] = str(home)
    settings = Settings.load(home=home, catalog_url=f"sqlite:{home / 'catalog.sqlite'}", data_path=f"{home}/data/")
    scale_world.MEDIA[0] = str(home / "media")
    data = [subject_data(s, f, n_sub, seed, pools) for s in range(n_sub)]
    (home / "media").mkdir()
    for d in data:        # export ships only examples whose video file exists (and is not empty): one-byte stand-ins
        for ch in d["chunks"]:
            for v in ch["video_files"]:
                Path(v["path"]).write_bytes(b"\0")
    bench = bench_windows(data, seed)

    def count(k: str) -> int:
        return sum(len(ch[k]) for d in data for ch in d["chunks"])
    probe.subjects = n_sub
    sizes = (f"{n_sub} subjects, {sum(len(d['kb']['knowledge_points']) for d in data):,} kps, {count('video_files'):,} videos, "
             f"{count('window_hashes'):,} windows, {count('candidates'):,} cands, {count('verified_qa'):,} verified, "
             f"{count('checks'):,} checks, {count('gen_calls') + count('check_calls'):,} llm_calls")
    print(f"\n== f={f}: {sizes}", flush=True)
    wh = Warehouse(settings)
    _ = wh.con  # schema and views created outside the timings

    def load(run_id: str, info: dict, skip: bool = False, ledger: bool = True) -> None:
        n = sum(write_subject(wh, d, run_id, skip, ledger) for d in data)
        if not skip:
            wh.write("benchmark_windows", bench, run_id, {"benchmark": ["bench"]})
        info["detail"] = f"{n + (not skip)} transactions"
    with probe.phase("first load") as info:
        load("load-1", info)
    with probe.phase("identical rerun") as info:      # as the stages rerun: unchanged fingerprints, nothing written
        load("load-2", info, skip=True)
    with probe.phase("identical rewrite") as info:    # the write path alone, without the fingerprint skip
        load("load-3", info, ledger=False)
    changed = subject_data(0, f, n_sub, seed, pools, variant=1)
    with probe.phase("backfill 1 subject") as info:
        n = write_subject(wh, {**changed, "chunks": changed["chunks"]}, "backfill-1")
        info["detail"] = f"{n} transactions, {sum(len(c['candidates']) for c in changed['chunks']):,} cands"
    wh.close()

    with probe.phase("decontaminate") as info:
        r = decontaminate.run(settings, params={"load_registry": False, "sample_benchmark_videos": False})
        info["detail"] = f"{len(r['contaminated_videos'])} contaminated videos (phash)"
    with probe.phase("split") as info:
        r = split.run(settings)
        info["detail"] = ", ".join(f"{k} {v['examples']:,}" for k, v in r["splits"].items())
    with probe.phase("export (all formats)") as info:
        r = export_job.run(settings, params={"out": str(home / "exports")})
        info["detail"] = f"{len(r['exports'])} formats, {sum(r['examples'].values()):,} examples"

    wh = Warehouse(settings)
    views = sorted(p.stem for p in (SQL_DIR / "views").glob("v_*.sql"))
    with probe.phase("views alone") as info:
        alone = view_times(wh, views)
        slow = max(alone, key=alone.get)
        info["detail"] = f"{len(views)} views; slowest {slow} {alone[slow]:.3f} s"
    ctx = mp.get_context("spawn")
    ready, stop, done = ctx.Event(), ctx.Event(), ctx.Value("i", 0)
    proc = ctx.Process(target=writer_proc, args=(str(home), ready, stop, done))
    proc.start()
    ready.wait(120)
    with probe.phase("views + writer") as info:
        busy = view_times(wh, views)
    stop.set()
    proc.join(120)
    info["detail"] = f"slowest {max(busy, key=busy.get)} {max(busy.values()):.3f} s; writer committed {done.value}"
    probe.rows["views + writer"] = probe.rows["views + writer"][:2] + (info["detail"],)

    query = "SELECT * FROM v_dataset_stats"
    vids = wh.query("SELECT video_id FROM videos ORDER BY video_id LIMIT 50")["video_id"].to_list()
    with probe.phase("50 scoped writes") as info:
        for i, vid in enumerate(vids):
            rows = wh.query("SELECT * EXCLUDE (run_id) FROM candidates WHERE video_id = ?", [vid])
            wh.write("candidates", rows.with_columns(pl.col("think") + f"\nEdit {i}."), f"edit-{i}",
                     {"video_id": [vid]})
        files = upkeep.parquet_files(wh.con, settings.data_path)
        info["detail"] = f"{len(vids)} writes; {files} parquet files; {query} {latency(wh, query):.3f} s"
    with probe.phase("maintain") as info:
        s = upkeep.maintain(wh, older_than_hours=0)
        info["detail"] = (f"files {s['files_before']} -> {s['files_after']}, snapshots {s['snapshots_before']} -> "
                          f"{s['snapshots_after']}; {query} {latency(wh, query):.3f} s")
    wh.close()
    ru = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    probe.rows["(process ru_maxrss)"] = (0.0, ru, "lifetime peak of this process, all fractions so far")
    tmp.cleanup()
    return probe


def _ledger_batch(start: int, n: int):
    """n llm_calls rows as one Arrow table (vectorised: 10M rows build in seconds), ids unique per payment."""
    import numpy as np
    import pyarrow as pa
    ids = np.arange(start, start + n)
    keys = pa.array(np.char.add("k", ids.astype(str)))
    return pa.table({"call_id": pa.array(np.char.add(np.char.add("k", ids.astype(str)), ".p")), "request_key": keys,
                     "role": pa.array(["solver"] * n), "task": pa.array(["solve"] * n), "model": pa.array(["m"] * n),
                     "tokens_in": pa.array(800 + ids % 2000), "tokens_out": pa.array(100 + ids % 600),
                     "status": pa.array(["ok"] * n), "cache_hit": pa.array(np.zeros(n, dtype=bool)),
                     "created_at": pa.array([datetime(2025, 1, 2)] * n, type=pa.timestamp("us"))})


def ledger_flush(sizes: list[int], repeat: int = 5) -> dict[int, float]:
    """Median seconds of a 1,000-row ledger flush (one append transaction, as ModelLayer.flush commits it) with
    the ledger grown to each size (grown through the same append path, in batches of up to 1M rows)."""
    from videokr.settings import Settings
    from warehouse import Warehouse
    out, have = {}, 0
    with tempfile.TemporaryDirectory(prefix="bench_ledger_") as tmp:
        home = Path(tmp)
        wh = Warehouse(Settings.load(home=home, catalog_url=f"sqlite:{home / 'catalog.sqlite'}",
                                     data_path=f"{home}/data/"))
        for size in sorted(sizes):
            while have < size:
                n = min(1_000_000, size - have)
                wh.write("llm_calls", _ledger_batch(have, n), "grow", append=True)
                have += n
            ts = []
            for _ in range(repeat):
                t0 = time.perf_counter()
                wh.write("llm_calls", _ledger_batch(have, 1000), "flush", append=True)
                ts.append(time.perf_counter() - t0)
                have += 1000
            out[size] = sorted(ts)[len(ts) // 2]
            print(f"   ledger at {size:>12,} rows: 1,000-row flush {out[size] * 1000:.1f} ms", flush=True)
        wh.close()
    return out


def report(results: dict[float, Probe]) -> None:
    fs = sorted(results)
    for f in fs:
        print(f"\n-- f={f}  {'phase':<22} {'seconds':>9} {'peak RSS MiB':>13}  detail")
        for name, (dt, rss, detail) in results[f].rows.items():
            print(f"   {'':<{len(str(f)) + 2}}{name:<22} {dt:>9.3f} {rss:>13.0f}  {detail}")
        r = results[f].rows
        first = r["first load"][0]
        print(f"   identical rerun / first load = {r['identical rerun'][0] / first:.3f} (goal <= 0.05; stages skip "
              f"unchanged fingerprints)")
        print(f"   identical rewrite / first load = {r['identical rewrite'][0] / first:.3f} (the write path alone)")
        print(f"   one-subject backfill / first load = {r['backfill 1 subject'][0] / first:.3f} (goal <= 0.05; "
              f"one subject is 1/{results[f].subjects} of this warehouse)")
        print(f"   views with a writer / views alone = {r['views + writer'][0] / r['views alone'][0]:.2f}")
    phases = [p for p in results[fs[-1]].rows if not p.startswith("(")]
    n_sub = {f: results[f].subjects for f in fs}
    if len(fs) >= 2:
        print("\n-- growth of time between fractions (t(f_b) / t(f_a))")
        for a, b in pairwise(fs):
            print(f"   {a} -> {b} (x{b / a:g} data): " + ", ".join(
                f"{p} x{results[b].rows[p][0] / max(results[a].rows[p][0], 1e-9):.1f}" for p in phases))
    print("\n-- linear extrapolation of seconds through the two largest fractions, to 82 subjects: writes as "
          "t = a * commits + b * rows (load commits at f=1 / f=10: "
          f"{transactions(1, 82):,} / {transactions(10, 82):,}), other phases as t = a + b f" if len(fs) >= 2 else "\n-- extrapolation of seconds proportional to f (one fraction measured)")
    print(f"   {'phase':<22} {'f=1':>10} {'f=10':>11} {'RSS MiB f=1':>12} {'f=10':>8}")
    at: dict[str, list[float]] = {}
    for p in phases:
        if len(fs) >= 2:
            (fa, ta), (fb, tb) = [(x, results[x].rows[p][0]) for x in fs[-2:]]
            if p in WRITE_MODEL:   # t = a * commits + b * (share of the rows written)
                (ca, ra), (cb, rb) = WRITE_MODEL[p](fa, n_sub[fa]), WRITE_MODEL[p](fb, n_sub[fb])
                det = ca * rb - cb * ra
                a, b = ((ta * rb - tb * ra) / det, (ca * tb - cb * ta) / det) if det else (-1, -1)
                if a < 0 or b < 0:   # one term explains it: keep the one that fits the larger fraction
                    a, b = (tb / cb, 0.0) if a >= 0 else (0.0, tb / rb)
                est = [a * c + b * r for c, r in (WRITE_MODEL[p](x, 82) for x in (1, 10))]
            else:
                b = (tb - ta) / (fb - fa)
                a = tb - b * fb
                est = [max(a + b * x, tb) for x in (1, 10)]
        else:
            est = [results[fs[0]].rows[p][0] * x / fs[0] for x in (1, 10)]
        (fa, ma), (fb, mb) = [(x, results[x].rows[p][1]) for x in (fs[-2:] if len(fs) >= 2 else fs * 2)]
        slope = (mb - ma) / (fb - fa) if fb != fa else 0.0       # peak RSS, linear in f
        rss = [max(mb + slope * (x - fb), mb) for x in (1, 10)]
        at[p] = est
        print(f"   {p:<22} {est[0]:>10.1f} {est[1]:>11.1f} {rss[0]:>12.0f} {rss[1]:>8.0f}")
    if {"first load", "identical rerun", "backfill 1 subject"} <= set(at):
        first = at["first load"][0]
        print(f"   at f=1: identical rerun / first load = {at['identical rerun'][0] / first:.3f} (goal <= 0.05), "
              f"one-subject backfill / first load = {at['backfill 1 subject'][0] / first:.3f} (goal <= 0.05)")



def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--fractions", type=float, nargs="+", default=[0.001, 0.01],
                    help="fractions of the paper's scale (default 0.001 0.01; a bigger machine: 0.01 0.1 1)")
    ap.add_argument("--chunk-videos", type=int, default=50, help="videos per committed chunk (generate's default)")
    ap.add_argument("--subjects", type=int, default=None,
                    help="subjects to spread the rows over (default: 82 from f=0.1, 4 at f=0.001, 8 at f=0.01)")
    ap.add_argument("--seed", type=int, default=20250101)
    ap.add_argument("--ledger-rows", type=int, nargs="*", default=[10_000, 1_000_000, 10_000_000],
                    help="ledger sizes at which a 1,000-row flush is timed (none: skip)")
    a = ap.parse_args()
    scale_world.CHUNK_VIDEOS = a.chunk_videos   # the data model reads it
    if a.ledger_rows:
        print("\n== ledger flush (llm_calls appended; goal: the same cost at 10M rows as at 10K)", flush=True)
        t = ledger_flush(a.ledger_rows)
        lo, hi = min(t), max(t)
        print(f"   flush at {hi:,} rows / flush at {lo:,} rows = {t[hi] / t[lo]:.2f} (goal ~1)", flush=True)
    results = {}
    for f in sorted(a.fractions):
        results[f] = run_fraction(f, a.seed, n_subjects(f, a.subjects))
    report(results)


if __name__ == "__main__":
    main()
