"""kill -9 of the frames stage takes its decoder processes with it, and the next run finishes the work."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.unit.frames_media import render_video

pytestmark = pytest.mark.slow


def _children(pid: int) -> set[int]:
    out: set[int] = set()
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            out |= {int(x) for x in (task / "children").read_text().split()}
        except OSError:
            pass
    return out


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="needs Linux /proc")
def test_workers_die_with_the_stage_and_the_rerun_completes(tmp_path):
    videos = {f"v{i:02d}": {"path": str(render_video(tmp_path / f"v{i}.mp4", seconds=60, fps=24, seed=i)),
                            "subject_id": "physics"} for i in range(10)}
    env = dict(os.environ, VIDEOKR_HOME=str(tmp_path / "home"), OMP_NUM_THREADS="1")
    cmd = [sys.executable, "-m", "videokr.cli", "stage", "frames", "--param", f"paths={json.dumps(videos)}",
           "--param", "workers=2", "--param", "write_batch=1"]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    workers: set[int] = set()
    deadline = time.time() + 120
    while time.time() < deadline and len(workers) < 2 and proc.poll() is None:
        workers = {c for c in _children(proc.pid) if "spawn" in Path(f"/proc/{c}/cmdline").read_bytes().decode(
            errors="replace")} if Path(f"/proc/{proc.pid}").exists() else set()
        time.sleep(0.05)
    assert len(workers) >= 2, "the pool's workers did not start"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    deadline = time.time() + 20            # a worker still starting up exits as soon as its initializer runs
    while time.time() < deadline and [w for w in workers if _alive(w)]:
        time.sleep(0.2)
    assert not [w for w in workers if _alive(w)], "decoder processes outlived the killed stage"
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    summary = json.loads(out.stdout)
    assert summary["processed"] + summary["skipped"] == len(videos) and summary["bad"] == 0
