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

Measures, per f, each step in its own spawned process (scale_steps.py): its time and its own peak RSS (VmHWM), so
a step's memory is what that step needs, not what the bench gathered; the write steps hold one subject's synthetic
rows at a time (generated outside the timed part), which bounds the stage's own memory from above.
  first load; an identical rerun of the same writes (goal <= 0.05 of the first load); a one-subject backfill of the
  biggest tables with changed content (goal <= 1/20 of the first load); decontaminate (jobs.decontaminate.run offline:
  no registry load, no sample videos; synthetic benchmark_windows with planted copies), split (jobs.split.run),
  export of all formats (jobs.export.run into a temp dir); every analyst view (SELECT * FROM v_*, median of 3) alone
  and while a writer process commits, after maintenance (goal: each view under 2 s); the Parquet file count and query latency after 50
  small scoped writes, then after `warehouse.upkeep.maintain(wh, older_than_hours=0)`. Prints a table per f, each
  view's time, the growth between fractions and a linear extrapolation (through the two largest fractions) of time
  and peak RSS to f=1 and f=10 (goal: peak RSS under 8 GiB in every step). The ledger figure: scale_ledger.py.

The synthetic data model lives in scale_world.py beside this file.

    .venv/bin/python tests/benchmarks/bench_scale.py                          # --fractions 0.001 0.01 (a few minutes)
    .venv/bin/python tests/benchmarks/bench_scale.py --fractions 0.01 0.1 1   # f=1: hours of commits on 2 cores
    .venv/bin/python tests/benchmarks/bench_scale.py --fractions --ledger-rows 10000 10000000   # the ledger alone
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from itertools import pairwise
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from scale_ledger import ledger_flush  # noqa: E402
from scale_steps import in_child, step_job, step_load, step_maintain, step_scoped_writes, step_views  # noqa: E402
from scale_world import WRITE_MODEL, n_subjects, transactions  # noqa: E402

RSS_GOAL_MIB = 8 * 1024
MEMORY_LIMIT = [None]    # --memory-limit


class Probe:
    """Per phase: (seconds, the phase process's peak RSS MiB, detail); per view: (alone, beside a writer) seconds."""
    def __init__(self, subjects: int):
        self.rows: dict[str, tuple[float, float, str]] = {}
        self.views: dict[str, list[float]] = {}
        self.subjects = subjects

    def run(self, name: str, fn, *args) -> dict:
        out, rss = in_child(fn, *args)
        self.rows[name] = (out["seconds"], rss, out["detail"])
        for v, t in out.get("views", {}).items():
            self.views.setdefault(v, []).append(t)
        return out


def run_fraction(f: float, seed: int, n_sub: int) -> Probe:
    probe = Probe(n_sub)
    tmp = tempfile.TemporaryDirectory(prefix=f"bench_scale_{f}_")
    home = tmp.name
    os.environ["VIDEOKR_HOME"] = home
    if MEMORY_LIMIT[0]:       # every step's warehouse connection reads [warehouse] memory_limit
        Path(home, "videokr.toml").write_text(f'[warehouse]\nmemory_limit = "{MEMORY_LIMIT[0]}"\n')
        os.environ["VIDEOKR_CONFIG"] = str(Path(home, "videokr.toml"))
    print(f"\n== f={f}: {n_sub} subjects", flush=True)
    out = probe.run("first load", step_load, home, f, n_sub, seed, "first")
    print("   " + ", ".join(f"{v:,} {k}" for k, v in out["sizes"].items()), flush=True)
    probe.run("identical rerun", step_load, home, f, n_sub, seed, "rerun")    # the stages' fingerprint skip
    probe.run("identical rewrite", step_load, home, f, n_sub, seed, "rewrite")  # the write path alone
    probe.run("backfill 1 subject", step_load, home, f, n_sub, seed, "backfill")
    for job in ("decontaminate", "split", "export (all formats)"):
        probe.run(job, step_job, home, job.split()[0])
    probe.run("50 scoped writes", step_scoped_writes, home)
    probe.run("maintain", step_maintain, home)
    probe.run("views alone", step_views, home, False)      # the goal is after maintenance
    probe.run("views + writer", step_views, home, True)
    tmp.cleanup()
    return probe


LOADS = ("first load", "identical rerun", "identical rewrite", "backfill 1 subject")


def _extrapolate(p: str, fs: list[float], results: dict[float, Probe], col: int) -> list[float]:
    """Phase p's figure (col 0: seconds, 1: peak RSS MiB) at f=1 and f=10 (82 subjects), linear through the two
    largest fractions (writes' seconds as a * commits + b * rows); never below the largest measured. A write step's
    memory follows one subject's rows (x = f / subjects; it holds a subject at a time), fit through the fractions
    farthest apart in x; with x about the same at every fraction, the largest figure is kept."""
    if len(fs) < 2:
        v = results[fs[0]].rows[p][col]
        return [v * x / fs[0] for x in (1, 10)] if col == 0 else [v, v]
    if col == 1 and p in LOADS:
        pts = sorted((f / results[f].subjects, results[f].rows[p][1]) for f in fs)
        (xa, ma), (xb, mb) = pts[0], pts[-1]
        top = max(m for _, m in pts)
        if xb < 1.5 * xa:
            return [top, top]
        slope = (mb - ma) / (xb - xa)
        return [max(mb + slope * (x / 82 - xb), top) for x in (1, 10)]
    (fa, ta), (fb, tb) = [(x, results[x].rows[p][col]) for x in fs[-2:]]
    if col == 0 and p in WRITE_MODEL:   # t = a * commits + b * (share of the rows written)
        (ca, ra), (cb, rb) = WRITE_MODEL[p](fa, results[fa].subjects), WRITE_MODEL[p](fb, results[fb].subjects)
        det = ca * rb - cb * ra
        a, b = ((ta * rb - tb * ra) / det, (ca * tb - cb * ta) / det) if det else (-1, -1)
        if a < 0 or b < 0:   # one term explains it: keep the one that fits the larger fraction
            a, b = (tb / cb, 0.0) if a >= 0 else (0.0, tb / rb)
        return [a * c + b * r for c, r in (WRITE_MODEL[p](x, 82) for x in (1, 10))]
    slope = (tb - ta) / (fb - fa)
    return [max(tb + slope * (x - fb), tb) for x in (1, 10)]


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
    print("\n-- each view after maintenance, median of 3 (s): alone / beside a writer (goal: each under 2 s)")
    print(f"   {'view':<30}" + "".join(f"{'f=' + str(f):>18}" for f in fs))
    views = results[fs[-1]].views
    for v in sorted(views):
        print(f"   {v:<30}" + "".join(f"{results[f].views[v][0]:>9.3f} /{results[f].views[v][1]:>6.3f}" for f in fs))
    print(f"   {'(the set: sum)':<30}" + "".join(
        f"{results[f].rows['views alone'][0]:>9.3f} /{results[f].rows['views + writer'][0]:>6.3f}" for f in fs))
    phases = list(results[fs[-1]].rows)
    if len(fs) >= 2:
        for col, what in ((0, "time"), (1, "peak RSS")):
            print(f"\n-- growth of {what} between fractions (x(f_b) / x(f_a))")
            for a, b in pairwise(fs):
                print(f"   {a} -> {b} (x{b / a:g} data): " + ", ".join(
                    f"{p} x{results[b].rows[p][col] / max(results[a].rows[p][col], 1e-9):.2f}" for p in phases))
    print("\n-- linear extrapolation through the two largest fractions, to 82 subjects: writes' seconds as "
          "t = a * commits + b * rows (load commits at f=1 / f=10: "
          f"{transactions(1, 82):,} / {transactions(10, 82):,}), other figures as x = a + b f"
          if len(fs) >= 2 else "\n-- extrapolation of seconds proportional to f (one fraction measured)")
    print(f"   {'phase':<22} {'s f=1':>10} {'s f=10':>11} {'RSS MiB f=1':>12} {'f=10':>8}  goal: RSS < 8 GiB")
    at = {}
    for p in phases:
        at[p], rss = _extrapolate(p, fs, results, 0), _extrapolate(p, fs, results, 1)
        ok = "ok" if max(rss) < RSS_GOAL_MIB else "OVER"
        print(f"   {p:<22} {at[p][0]:>10.1f} {at[p][1]:>11.1f} {rss[0]:>12.0f} {rss[1]:>8.0f}  {ok}")
    first = at["first load"][0]
    print(f"   at f=1: identical rerun / first load = {at['identical rerun'][0] / first:.3f} (goal <= 0.05), "
          f"one-subject backfill / first load = {at['backfill 1 subject'][0] / first:.3f} (goal <= 0.05)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--fractions", type=float, nargs="*", default=[0.001, 0.01],
                    help="fractions of the paper's scale (default 0.001 0.01; a bigger machine: 0.01 0.1 1)")
    ap.add_argument("--chunk-videos", type=int, default=50, help="videos per committed chunk (generate's default)")
    ap.add_argument("--subjects", type=int, default=None,
                    help="subjects to spread the rows over (default: 82 from f=0.1, 4 at f=0.001, 8 at f=0.01)")
    ap.add_argument("--seed", type=int, default=20250101)
    ap.add_argument("--ledger-rows", type=int, nargs="*", default=[10_000, 1_000_000, 10_000_000],
                    help="ledger sizes at which a 1,000-row flush is timed (none: skip)")
    ap.add_argument("--memory-limit", help="DuckDB memory_limit of every step's warehouse connection (default: "
                    "warehouse.catalog.MEMORY_LIMIT)")
    ap.add_argument("--save", help="write the per-fraction figures to this JSON file")
    ap.add_argument("--load", nargs="*", default=[], help="JSON files of earlier runs to report together with this one")
    ap.add_argument("--ledger-rounds", type=int, default=15, help="interleaved flush pairs per ledger size")
    ap.add_argument("--ledger-small-files", type=int, default=0,
                    help="1,000-row flush files added before the largest size is timed (unmerged flushes)")
    a = ap.parse_args()
    MEMORY_LIMIT[0] = a.memory_limit
    os.environ["BENCH_CHUNK_VIDEOS"] = str(a.chunk_videos)   # the data model reads it, in every step's process
    if a.ledger_rows:
        print("\n== ledger flush (llm_calls appended; goal: the same cost at 10M rows as at 10K)", flush=True)
        t = ledger_flush(a.ledger_rows, a.ledger_rounds, a.ledger_small_files)
        lo, hi = min(t), max(t)
        print(f"   flush at {hi:,} rows / flush at {lo:,} rows: {t[hi][0] / t[lo][0]:.2f} as measured apart, "
              f"{(t[hi][0] / t[hi][1]) / (t[lo][0] / t[lo][1]):.2f} against the reference ledger in the same "
              "rounds (goal ~1)", flush=True)
    results = {}
    for f in sorted(a.fractions):
        results[f] = run_fraction(f, a.seed, n_subjects(f, a.subjects))
    if a.save:
        Path(a.save).write_text(json.dumps({f: vars(p) for f, p in results.items()}))
    for path in a.load:
        for f, d in json.loads(Path(path).read_text()).items():
            results.setdefault(float(f), Probe(d["subjects"])).__dict__.update(d)
    if results:
        report(results)


if __name__ == "__main__":
    main()
