"""A full disk and a read-only data path, for real: the DuckLake data path on a small tmpfs (needs root and
`mount`; skipped with the reason otherwise), the stage run through the CLI as a user runs it.

Expected: one line on stderr naming the cause and the path (no traceback), exit status 2, the run marked failed in
`runs`, nothing already written lost, and after the next (successful) run no data file the catalog does not know.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.reliability.table import FULL, check

MINI_BANK = Path(__file__).resolve().parents[1] / "fixtures" / "mini_bank.yaml"


@pytest.fixture
def tmpfs(tmp_path):
    mnt = tmp_path / "data"
    mnt.mkdir()
    if os.geteuid() != 0 or not shutil.which("mount"):
        pytest.skip("a real full disk needs root and mount (a tmpfs of 2 MB)")
    res = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mnt)], capture_output=True, text=True)
    if res.returncode:
        pytest.skip(f"cannot mount a tmpfs here: {res.stderr.strip()}")
    yield mnt
    subprocess.run(["umount", "-l", str(mnt)], check=False)


def stage(env: dict) -> subprocess.CompletedProcess:
    """The stage as a user runs it (the CLI), for the run that fails: its stderr and exit status are checked."""
    return subprocess.run([sys.executable, "-m", "videokr.cli", "stage", "knowledge_bank"], env=env,
                          capture_output=True, text=True, timeout=300)


def stage_in_process(env: dict, bank: Path | None = None) -> dict:
    """The same stage in this process (the runs around the failing one; saves an interpreter start)."""
    from jobs import knowledge_bank
    from videokr.settings import Settings
    kw = {"knowledge_bank": str(bank)} if bank else {}
    return knowledge_bank.run(Settings(home=Path(env["VIDEOKR_HOME"]), data_path=env["VIDEOKR_DATA_PATH"], **kw))


def state(env: dict, data: Path) -> dict:
    from videokr.settings import Settings
    from warehouse import Warehouse
    with Warehouse(Settings(home=Path(env["VIDEOKR_HOME"]), data_path=str(data) + "/"), read_only=True) as wh:
        known = {os.path.basename(p) for (p,) in wh.con.execute(
            "SELECT path FROM __ducklake_metadata_lake.ducklake_data_file UNION ALL "
            "SELECT path FROM __ducklake_metadata_lake.ducklake_delete_file").fetchall()}
        return {"runs": wh.query("SELECT status, error FROM runs WHERE stage = 'knowledge_bank' ORDER BY started").rows(),
                "kps": set(wh.query("SELECT kp_id FROM knowledge_points")["kp_id"].to_list()),
                "orphans": {f for _, _, fs in os.walk(data) for f in fs if f.endswith(".parquet")} - known}


@pytest.mark.parametrize("fault", ["disk_full", pytest.param("read_only", marks=pytest.mark.skipif(
    not FULL, reason="full form only (VIDEOKR_RELIABILITY=full): one real-disk case is enough for CI"))])
def test_full_or_read_only_data_path(tmp_path, tmpfs, fault):
    home = tmp_path / "home"
    env = dict(os.environ, VIDEOKR_HOME=str(home), VIDEOKR_DATA_PATH=str(tmpfs) + "/",
               VIDEOKR_CONFIG=str(tmp_path / "none.toml"), OMP_NUM_THREADS="1")
    stage_in_process(env, MINI_BANK)                                    # already written: must survive
    before = state(env, tmpfs)["kps"]
    if fault == "disk_full":
        free = shutil.disk_usage(tmpfs).free
        (tmpfs / "filler").write_bytes(b"\0" * max(0, free - 8192))
        cause = "No space left on device"
    else:
        subprocess.run(["mount", "-o", "remount,ro", str(tmpfs)], check=True)
        cause = "Read-only file system"
    bad = stage(env)                                                    # the full bank: Parquet files this time
    line = bad.stderr.strip().splitlines()[-1] if bad.stderr.strip() else ""
    check(f"{fault}: clear error", f"exit 2; one line naming '{cause}' and {tmpfs}; no traceback",
          f"exit {bad.returncode}: {line[:150]}", bad.returncode == 2 and cause in line and str(tmpfs) in line
          and "Traceback" not in bad.stderr)
    if fault == "disk_full":
        (tmpfs / "filler").unlink()
    else:
        subprocess.run(["mount", "-o", "remount,rw", str(tmpfs)], check=True)
    mid = state(env, tmpfs)
    check(f"{fault}: nothing written lost", f"the {len(before)} knowledge points of the first run still there",
          f"{len(before & mid['kps'])} kept", before <= mid["kps"])
    stage_in_process(env)
    after = state(env, tmpfs)
    statuses = [s for s, _ in after["runs"]]
    check(f"{fault}: run marked failed, rerun succeeds", "runs: success, failed (naming the cause), success",
          statuses, statuses == ["success", "failed", "success"] and cause in (after["runs"][1][1] or "")
          )
    check(f"{fault}: no orphaned files after the next run", "0 Parquet files unknown to the catalog",
          sorted(after["orphans"]), not after["orphans"])
