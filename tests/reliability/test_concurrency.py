"""4 writers and 1 reader at once on one warehouse (separate processes, the embedded SQLite catalog).

Each writer commits rounds as stage runs in its own scope (its own lectures): per round one chunk that writes a
lecture and its K knowledge points in ONE transaction, plus the run's own `runs` rows. The reader, meanwhile, reads
both tables in one read transaction, again and again: every lecture must have exactly K points and every point its
lecture (a two-table invariant that only holds if each read sees one committed snapshot). At the end every writer's
rows are there, once each, and every run succeeded.
"""
from __future__ import annotations

import multiprocessing as mp
import time
from pathlib import Path

from tests.reliability.table import check, scale

WRITERS, K = 4, 3


def writer(home: str, w: int, rounds: int, ready) -> None:
    from videokr.settings import Settings
    from warehouse import Warehouse, stage_run
    ready.wait(120)                                      # the reader is reading: it sees the tables grow
    with Warehouse(Settings(home=Path(home))) as wh:
        for r in range(rounds):
            lec = f"w{w}-r{r:03d}"
            with stage_run(wh, f"writer{w}", {"round": r}) as run, run.chunk():
                run.write("lectures", [{"lecture_id": lec, "course_id": f"w{w}", "subject_id": f"s{w}", "name": lec,
                                        "position": r}], scope={"lecture_id": [lec]})
                run.write("knowledge_points", [{"kp_id": f"{lec}-k{j}", "lecture_id": lec, "course_id": f"w{w}",
                                                "subject_id": f"s{w}", "name": f"point {j}", "statement": "s",
                                                "keywords": ["k"], "position": j} for j in range(K)],
                          scope={"lecture_id": [lec]})


def reader(home: str, ready, stop, out) -> None:
    """Read until `stop` is set (and once more after): (reads, violations, distinct states seen)."""
    from videokr.settings import Settings
    from warehouse import Warehouse
    reads, bad, states = 0, [], set()
    with Warehouse(Settings(home=Path(home)), read_only=True) as wh:
        con = wh.con
        last = False
        while not last:
            last = stop.is_set()
            con.execute("BEGIN TRANSACTION")
            lectures = {r[0] for r in con.execute("SELECT lecture_id FROM lectures WHERE course_id LIKE 'w%'")
                        .fetchall()}
            points = dict(con.execute("SELECT lecture_id, count(*) FROM knowledge_points WHERE course_id LIKE 'w%' "
                                      "GROUP BY 1").fetchall())
            con.execute("COMMIT")
            reads += 1
            ready.set()
            states.add(len(lectures))
            if set(points) != lectures or any(n != K for n in points.values()):
                bad.append((len(lectures), len(points), sorted(set(points) ^ lectures)[:3]))
            time.sleep(0.1)                              # a reader polling, not a busy loop stealing the writers' CPU
    out.put((reads, bad, sorted(states)))


def test_four_writers_one_reader(tmp_path):
    from videokr.settings import Settings
    from warehouse import Warehouse
    settings = Settings(home=tmp_path / "home")
    with Warehouse(settings) as wh:
        wh.con                                           # the schema exists before anyone races for it
    rounds = scale(3, 25)
    # forkserver: the children fork from one clean process that imported the warehouse once (not from pytest's)
    ctx = mp.get_context("forkserver")
    ctx.set_forkserver_preload(["warehouse", "tests.reliability.test_concurrency"])
    ready, stop, out = ctx.Event(), ctx.Event(), ctx.Queue()
    rd = ctx.Process(target=reader, args=(str(settings.home), ready, stop, out))
    rd.start()
    writers = [ctx.Process(target=writer, args=(str(settings.home), w, rounds, ready)) for w in range(WRITERS)]
    t0 = time.monotonic()
    for p in writers:
        p.start()
    for p in writers:
        p.join(timeout=300)
    seconds = time.monotonic() - t0
    stop.set()
    reads, bad, states = out.get(timeout=120)
    rd.join(timeout=60)
    codes = [p.exitcode for p in writers]

    with Warehouse(settings, read_only=True) as wh:
        n = {t: wh.query(f"SELECT count(*) AS n, count(DISTINCT {k}) AS d FROM {t} WHERE course_id LIKE 'w%'")
             .row(0) for t, k in (("lectures", "lecture_id"), ("knowledge_points", "kp_id"))}
        runs = wh.query("SELECT status, count(*) FROM runs WHERE stage LIKE 'writer%' GROUP BY 1").rows()
        per_writer = dict(wh.query("SELECT course_id, count(*) FROM knowledge_points WHERE course_id LIKE 'w%' "
                                   "GROUP BY 1").rows())
    want = WRITERS * rounds
    check("concurrency: 4 writers, nothing lost", f"{want} lectures and {want * K} points, {rounds * K} per writer; "
          "writers exit 0", f"lectures {n['lectures'][0]}, points {n['knowledge_points'][0]}, per writer "
          f"{sorted(per_writer.values())}, exit codes {codes}, {seconds:.1f}s",
          codes == [0] * WRITERS and n["lectures"][0] == want and n["knowledge_points"][0] == want * K
          and sorted(per_writer.values()) == [rounds * K] * WRITERS)
    check("concurrency: no duplicates", "count = count(DISTINCT key) in both tables", n,
          all(total == distinct for total, distinct in n.values()))
    check("concurrency: every run recorded once, all succeeded", f"runs: success {want}", runs,
          runs == [("success", want)])
    check("concurrency: reader sees consistent snapshots", "0 reads breaking the two-table invariant; reads saw the "
          "tables grow", f"{reads} reads, {len(bad)} inconsistent {bad[:2]}, {len(states)} distinct states",
          reads > 1 and not bad and len(states) > 2 and states[-1] == want)
