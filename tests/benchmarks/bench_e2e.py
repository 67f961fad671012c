"""End-to-end: `videokr run` (what `make run` calls) twice on a fresh home: the first run (sample world rendered
from nothing, every stage doing its work) and an unchanged repeat (change-only: nothing to do).

    OMP_NUM_THREADS=1 .venv/bin/python tests/benchmarks/bench_e2e.py [--cores 2] [--keep]

Prints each stage DAG's seconds (from the Airflow metadata DB: the dag runs' start and end) and CPU seconds, the
command's wall and CPU seconds (all its processes), the load average around each run, and the ratios against the
goals: first run <= 300 s, repeat <= 60 s, on 2 cores. With more cores than --cores, the command is pinned to the
first ones (sched_setaffinity), so figures from a bigger machine stay comparable.
No shared render cache: VIDEOKR_SAMPLE_CACHE is removed from the environment.
"""
from __future__ import annotations

import argparse
import os
import re
import resource
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
GOALS = {"first": 300.0, "repeat": 60.0}


def _children_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def run_once(home: Path, cores: int) -> tuple[float, float, tuple, int, str]:
    """(wall s, CPU s of the command and all its processes, load averages before/after, returncode, output)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VIDEOKR_", "AIRFLOW"))}
    env |= {"VIDEOKR_HOME": str(home), "OMP_NUM_THREADS": "1"}
    cpus = sorted(os.sched_getaffinity(0))[:cores]
    load0, cpu0, t0 = os.getloadavg()[0], _children_cpu(), time.time()
    proc = subprocess.run([sys.executable, "-m", "videokr.cli", "run"], cwd=ROOT, env=env, capture_output=True,
                          text=True, preexec_fn=lambda: os.sched_setaffinity(0, cpus))
    return (time.time() - t0, _children_cpu() - cpu0, (load0, os.getloadavg()[0]), proc.returncode,
            proc.stdout + proc.stderr)


def dag_seconds(home: Path) -> list[dict[str, float]]:
    """Per invocation, {dag_id: seconds} from dag_run rows (runs of one invocation are consecutive per dag)."""
    con = sqlite3.connect(home / "airflow" / "airflow.db")
    rows = con.execute("SELECT dag_id, start_date, end_date FROM dag_run ORDER BY start_date").fetchall()
    per: dict[str, list[float]] = {}
    for dag_id, start, end in rows:
        if start and end:
            per.setdefault(dag_id, []).append((datetime.fromisoformat(end) - datetime.fromisoformat(start))
                                              .total_seconds())
    return [{d: v[i] for d, v in per.items() if len(v) > i} for i in range(2)]


def dag_cpu(home: Path) -> list[dict[str, float]]:
    """Per invocation, {dag_id: CPU seconds} (this process and its finished children) from `videokr run`'s run log:
    a figure the machine's other load inflates much less than wall time."""
    out = []
    for log in sorted((home / "airflow" / "logs" / "videokr-run").glob("*.log")):
        found = re.findall(r"DAG (\w+): \w+ in [\d.]+ s \(([\d.]+) CPU s\)", log.read_text())
        if found:
            out.append({d: float(c) for d, c in found})
    return out + [{}] * (2 - len(out))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cores", type=int, default=2, help="pin the command to this many CPUs (default 2)")
    ap.add_argument("--keep", action="store_true", help="keep the temporary home and print its path")
    ap.add_argument("--report", metavar="HOME", help="only report on a home a kept run left (no wall times)")
    a = ap.parse_args()
    tmp = Path(a.report).parent if a.report else Path(tempfile.mkdtemp(prefix="videokr-bench-e2e-"))
    home = Path(a.report) if a.report else tmp / "home"
    nan = float("nan")
    walls, cmd_cpu, loads, outs = ([nan] * 2, [nan] * 2, [(nan, nan)] * 2, ["", ""]) if a.report else ([], [], [], [])
    try:
        for label in () if a.report else ("first", "repeat"):
            wall, cpu_s, load, rc, out = run_once(home, a.cores)
            if rc != 0:
                print(out[-4000:])
                raise SystemExit(f"videokr run ({label}) exited with {rc}")
            walls.append(wall)
            cmd_cpu.append(cpu_s)
            loads.append(load)
            outs.append(out)
        split, cpu = dag_seconds(home), dag_cpu(home)
        from jobs.stages import registered
        stages = [s for s in registered() if s in split[0]]
        cores = min(a.cores, len(os.sched_getaffinity(0)))
        load = os.getloadavg()
        print(f"== videokr run on a fresh home, {cores} cores, OMP_NUM_THREADS=1: first run, then unchanged repeat")
        print(f"(load average at the end: {load[0]:.1f} {load[1]:.1f} {load[2]:.1f}; other work on the machine "
              "inflates wall seconds, CPU seconds much less)")
        print(f"{'stage':<16}{'first s':>10}{'CPU s':>8}{'repeat s':>10}{'CPU s':>8}")
        for s in stages:
            print(f"{s:<16}{split[0].get(s, 0):>10.1f}{cpu[0].get(s, 0):>8.1f}{split[1].get(s, 0):>10.1f}"
                  f"{cpu[1].get(s, 0):>8.1f}")
        dags = [sum(x.get(s, 0) for s in stages) for x in split]
        cpus = [sum(x.get(s, 0) for s in stages) for x in cpu]
        print(f"{'DAGs total':<16}{dags[0]:>10.1f}{cpus[0]:>8.1f}{dags[1]:>10.1f}{cpus[1]:>8.1f}")
        print(f"{'command wall':<16}{walls[0]:>10.1f}{cmd_cpu[0]:>8.1f}{walls[1]:>10.1f}{cmd_cpu[1]:>8.1f}"
              "   (CPU: the command and all its processes)")
        print(f"{'load avg (1 min)':<16}{'%.1f->%.1f' % loads[0]:>10}{'':>8}{'%.1f->%.1f' % loads[1]:>10}"
              "   (at the run's start -> end)")
        print(f"{'goal':<16}{GOALS['first']:>10.0f}{'':>8}{GOALS['repeat']:>10.0f}")
        r = [walls[0] / GOALS["first"], walls[1] / GOALS["repeat"]]
        print(f"{'wall / goal':<16}{r[0]:>10.2f}{'':>8}{r[1]:>10.2f}   ({'met' if max(r) <= 1 else 'NOT met'})")
        print(f"terminal output: {len(outs[0].splitlines())} and {len(outs[1].splitlines())} lines")
    finally:
        if a.keep or a.report:
            print(f"home kept: {home}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
