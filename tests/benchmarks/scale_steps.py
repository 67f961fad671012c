"""The measured steps of bench_scale.py, each run in its own spawned process (`in_child`), so each step's peak RSS
(its own ru_maxrss) is what that step needs, not what the benchmark process has gathered. No step holds the whole
synthetic warehouse: the write steps generate one subject at a time (deterministic from the seed, outside the timed
part) and write it as the stages commit it, so their peak is one subject's rows plus the write path's own."""
from __future__ import annotations

import multiprocessing as mp
import random
import resource
import statistics
import time
import traceback
from datetime import datetime
from pathlib import Path

import polars as pl
import scale_world
from scale_world import BenchWindows, Pools, _call, _h, df, subject_data

BANK_TABLES = ("subjects", "courses", "lectures", "knowledge_points", "videos", "downloads")
QUERY = "SELECT * FROM v_dataset_stats"


def in_child(fn, *args) -> tuple[dict, float]:
    """Run fn(*args) in a spawned process: (its result, its peak RSS MiB)."""
    ctx = mp.get_context("spawn")
    recv, send = ctx.Pipe(duplex=False)
    p = ctx.Process(target=_child, args=(send, fn, args))
    p.start()
    send.close()
    try:
        status, *out = recv.recv()
    except EOFError:                      # died without a word (killed, out of memory)
        p.join()
        raise RuntimeError(f"step {fn.__name__} died (exit code {p.exitcode})") from None
    p.join()
    if status != "ok":
        raise RuntimeError(f"step {fn.__name__} failed in its process:\n{out[0]}")
    return out[0], out[1]


def _child(conn, fn, args) -> None:
    try:
        out = fn(*args)
    except BaseException:
        conn.send(("error", traceback.format_exc()))
        raise
    conn.send(("ok", out, peak_rss_mib()))


def peak_rss_mib() -> float:
    """This process's own peak RSS: VmHWM, which exec resets. (ru_maxrss is not: a spawned child's starts at its
    parent's RSS when it forked, so every step would report at least the parent's.)"""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def settings_for(home: str):
    from videokr.settings import Settings
    h = Path(home)
    scale_world.MEDIA[0] = str(h / "media")
    return Settings.load(home=h, catalog_url=f"sqlite:{h / 'catalog.sqlite'}", data_path=f"{h}/data/")


def warehouse(home: str):
    from warehouse import Warehouse
    wh = Warehouse(settings_for(home))
    _ = wh.con
    return wh


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


SIZES = ("video_files", "window_hashes", "candidates", "verified_qa", "checks", "gen_calls", "check_calls")


def step_load(home: str, f: float, n_sub: int, seed: int, mode: str) -> dict:
    """mode 'first' (also makes the media stand-ins and the benchmark windows), 'rerun' (the stages' fingerprint
    skip), 'rewrite' (the write path alone, no ledger rows), 'backfill' (subject 0 with changed content). Only the
    writes are timed; generating a subject's rows is not."""
    wh, pools, spent, commits = warehouse(home), Pools(seed), 0.0, 0
    bench = BenchWindows(f, n_sub, seed) if mode == "first" else None
    sizes = dict.fromkeys(SIZES, 0) | {"knowledge_points": 0}
    for s in range(1 if mode == "backfill" else n_sub):
        d = subject_data(s, f, n_sub, seed, pools, variant=int(mode == "backfill"))
        sizes["knowledge_points"] += len(d["kb"]["knowledge_points"])
        for ch in d["chunks"]:
            for k in SIZES:
                sizes[k] += len(ch[k])
        if bench is not None:
            bench.add(d)
            Path(scale_world.MEDIA[0]).mkdir(exist_ok=True)
            for ch in d["chunks"]:   # export ships only examples whose video file exists: one-byte stand-ins
                for v in ch["video_files"]:
                    Path(v["path"]).write_bytes(b"\0")
        t0 = time.perf_counter()
        commits += write_subject(wh, d, f"{mode}-1", skip_unchanged=mode == "rerun", ledger=mode != "rewrite")
        spent += time.perf_counter() - t0
        del d
    if bench is not None:
        frame = bench.frame()
        t0 = time.perf_counter()
        wh.write("benchmark_windows", frame, "first-1", {"benchmark": ["bench"]})
        spent += time.perf_counter() - t0
        commits += 1
    wh.close()
    detail = f"{commits} transactions"
    if mode == "backfill":
        detail += f", {sizes['candidates']:,} cands"
    return {"seconds": spent, "detail": detail, "sizes": sizes}


def step_job(home: str, name: str) -> dict:
    from jobs import decontaminate, split
    from jobs import export as export_job
    s, t0 = settings_for(home), time.perf_counter()
    if name == "decontaminate":
        r = decontaminate.run(s, params={"load_registry": False, "sample_benchmark_videos": False})
        detail = f"{len(r['contaminated_videos'])} contaminated videos (phash)"
    elif name == "split":
        r = split.run(s)
        detail = ", ".join(f"{k} {v['examples']:,}" for k, v in r["splits"].items())
    else:
        r = export_job.run(s, params={"out": str(Path(home) / "exports")})
        detail = f"{len(r['exports'])} formats, {sum(r['examples'].values()):,} examples"
    return {"seconds": time.perf_counter() - t0, "detail": detail}


def writer_proc(home: str, ready, stop, done, peak) -> None:
    """Another process's writes while analysts query: llm_calls batches and one subject's candidates rewritten."""
    wh = warehouse(home)
    rng, n, now = random.Random(7), 0, datetime(2025, 1, 2)
    cands = wh.query("SELECT * EXCLUDE (run_id) FROM candidates WHERE subject_id = 'subject-01'")
    ready.set()
    while not stop.is_set():
        wh.write("llm_calls", pl.DataFrame([_call(_h("w", n, i, n=64), "judge", "judge", rng, now)
                                            for i in range(500)]), f"writer-{n}", append=True)
        vids = cands["video_id"].unique().to_list()
        wh.write("candidates", cands.with_columns(pl.col("model") + f"-w{n}"), f"writer-{n}", {"video_id": vids})
        n += 2
    done.value = n
    peak.value = peak_rss_mib()
    wh.close()


def step_views(home: str, with_writer: bool, repeat: int = 3) -> dict:
    """Each analyst view (SELECT * FROM v_*, every row fetched in Arrow batches, so a listing view's rows are not all
    held at once), `repeat` times in turn on one connection: each view's median time and the set's (the sum of the
    medians); with a writer process committing throughout when `with_writer`."""
    from videokr.settings import SQL_DIR
    views = sorted(p.stem for p in (SQL_DIR / "views").glob("v_*.sql"))
    wh = warehouse(home)
    wh.query("SELECT count(*) FROM subjects")            # the connection's first catalog load, untimed
    proc = None
    if with_writer:
        ctx = mp.get_context("spawn")
        ready, stop, done, peak = ctx.Event(), ctx.Event(), ctx.Value("i", 0), ctx.Value("d", 0.0)
        proc = ctx.Process(target=writer_proc, args=(home, ready, stop, done, peak))
        proc.start()
        ready.wait(300)
    times: dict[str, list[float]] = {v: [] for v in views}
    t0 = time.perf_counter()
    for _ in range(repeat):
        for v in views:
            t1 = time.perf_counter()
            for _ in wh.con.execute(f"SELECT * FROM {v}").fetch_record_batch(100_000):
                pass        # every row answered, in batches: an analyst's client pages a listing view
            times[v].append(time.perf_counter() - t1)
    wall = time.perf_counter() - t0
    per = {v: statistics.median(ts) for v, ts in times.items()}
    slow = max(per, key=per.get)
    detail = f"{len(views)} views, median of {repeat}: set {sum(per.values()):.3f} s, slowest {slow} {per[slow]:.3f} s"
    if proc is not None:
        stop.set()
        proc.join(300)
        detail += f"; writer committed {done.value}, its peak RSS {peak.value:.0f} MiB"
    wh.close()
    return {"seconds": sum(per.values()), "detail": detail, "views": per, "wall": wall}


def latency(wh, sql: str, repeat: int = 3) -> float:
    ts = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        wh.query(sql)
        ts.append(time.perf_counter() - t0)
    return sorted(ts)[len(ts) // 2]


def step_scoped_writes(home: str, n: int = 50) -> dict:
    from warehouse import upkeep
    wh = warehouse(home)
    vids = wh.query("SELECT video_id FROM videos ORDER BY video_id LIMIT ?", [n])["video_id"].to_list()
    t0 = time.perf_counter()
    for i, vid in enumerate(vids):
        rows = wh.query("SELECT * EXCLUDE (run_id) FROM candidates WHERE video_id = ?", [vid])
        wh.write("candidates", rows.with_columns(pl.col("think") + f"\nEdit {i}."), f"edit-{i}", {"video_id": [vid]})
    spent = time.perf_counter() - t0
    files = upkeep.parquet_files(wh.con, wh.settings.data_path)
    detail = f"{len(vids)} writes; {files} parquet files; {QUERY} {latency(wh, QUERY):.3f} s"
    wh.close()
    return {"seconds": spent, "detail": detail}


def step_maintain(home: str) -> dict:
    from warehouse import upkeep
    wh = warehouse(home)
    t0 = time.perf_counter()
    s = upkeep.maintain(wh, older_than_hours=0)
    spent = time.perf_counter() - t0
    parts = partitions(wh)
    detail = (f"files {s['files_before']} -> {s['files_after']} (goal <= 2 x {parts} (table, subject) partitions), snapshots "
              f"{s['snapshots_before']} -> {s['snapshots_after']}; {QUERY} {latency(wh, QUERY):.3f} s")
    wh.close()
    return {"seconds": spent, "detail": detail}


def partitions(wh) -> int:
    """(table, subject) partitions with rows: distinct subjects of each table that has a subject_id, 1 for others."""
    from warehouse import schema
    n = 0
    for t in schema.registry().values():
        col = "count(DISTINCT subject_id)" if "subject_id" in dict(t.columns) else "least(count(*), 1)"
        n += wh.con.execute(f'SELECT {col} FROM "{t.name}"').fetchone()[0]
    return n
