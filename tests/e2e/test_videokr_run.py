"""`videokr run` end to end on a temporary home: the whole registered chain through Airflow (dag.test)."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from videokr.settings import REPO_ROOT

pytestmark = pytest.mark.slow
VIDEOKR = [sys.executable, "-m", "videokr.cli"]


def _env(home: Path, **extra) -> dict:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("VIDEOKR_", "AIRFLOW")) or k == "VIDEOKR_SAMPLE_CACHE"}
    return env | {"VIDEOKR_HOME": str(home), "OMP_NUM_THREADS": "1"} | extra


def _sql(home: Path, query: str) -> str:
    out = subprocess.run(VIDEOKR + ["sql", query], env=_env(home), capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-3000:]
    return out.stdout


def _counts(home: Path) -> dict[str, int]:
    from videokr.settings import Settings
    from warehouse import Warehouse
    with Warehouse(Settings(home=home), read_only=True) as wh:
        return {t: int(wh.query(f'SELECT count(*) n FROM "{t}"')["n"][0]) for t in wh.tables() if t != "runs"}


@pytest.fixture(scope="module")
def first_run(tmp_path_factory):
    home = tmp_path_factory.mktemp("e2e") / "home"
    proc = subprocess.Popen(VIDEOKR + ["run"], env=_env(home), cwd=REPO_ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines: list[str] = []            # drained on a thread: a full pipe must never stall the run
    import threading
    reader = threading.Thread(target=lambda: lines.extend(proc.stdout), daemon=True)
    reader.start()
    # an analyst queries while the run writes
    answered = None
    deadline = time.time() + 600
    while proc.poll() is None and time.time() < deadline and answered is None:
        if (home / "catalog.sqlite").exists():
            try:
                answered = _sql(home, "select count(*) AS n from knowledge_points")
            except AssertionError:
                pass
        time.sleep(1)
    proc.wait(timeout=3000)
    reader.join(60)
    out = "".join(lines)
    assert proc.returncode == 0, out[-5000:]
    return home, out, answered


def test_run_produces_knowledge_bank_tables_and_run_records(first_run):
    home, out, _ = first_run
    assert "== rows per table ==" in out and "knowledge_bank" in out
    from jobs.stages import registered
    # quiet: progress lines and the summary, no Airflow log; one summary row per stage, partitions folded
    assert len(out.splitlines()) < 40 + 8 * len(registered()) and "Filling up the DagBag" not in out
    table = out.split("== stages ==")[1].split("== rows per table ==")[0]
    for stage in registered():
        assert len(re.findall(rf"^│{stage}\s", table, flags=re.M)) == 1, stage
        assert re.search(rf"^✔ {stage}\s", out, flags=re.M), stage          # its progress line, finished
    # Airflow's logs went to the task log files the UI reads
    logs = list((home / "airflow" / "logs" / "dag_id=knowledge_bank").glob("run_id=*/task_id=work.run_stage/attempt=1.log"))
    assert logs and "knowledge_points inserted=" in logs[0].read_text()
    counts = _counts(home)
    assert counts["disciplines"] == 4
    assert counts["subjects"] >= 16 and counts["knowledge_points"] >= 200
    runs = json.loads(subprocess.run(
        VIDEOKR + ["stage", "knowledge_bank"], env=_env(home), capture_output=True, text=True).stdout)
    assert runs["rows"] == {t: 0 for t in runs["rows"]}  # reloading the same bank writes nothing


def test_sql_answers_while_run_in_progress(first_run):
    _, _, answered = first_run
    assert answered is not None and "n" in answered


def test_second_run_keeps_row_counts_and_adds_runs(first_run):
    home, _, _ = first_run
    before = _counts(home)
    n_runs = int(_sql(home, "select count(*) AS n from runs").split("│")[-2].strip() or 0)
    from datetime import datetime, timezone
    t0 = datetime.now(timezone.utc).replace(tzinfo=None)
    out = subprocess.run(VIDEOKR + ["run"], env=_env(home), cwd=REPO_ROOT, capture_output=True, text=True,
                         timeout=3000)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    assert _counts(home) == before
    n_after = int(_sql(home, "select count(*) AS n from runs").split("│")[-2].strip())
    assert n_after > n_runs
    # change-only: the long stages skipped every unchanged item (no decode, no model call, no row) ...
    from videokr.settings import Settings
    from warehouse import Warehouse
    with Warehouse(Settings(home=home), read_only=True) as wh:
        last = wh.query("""SELECT stage, arg_max(rows_written, started) AS rows FROM runs
                           WHERE stage IN ('frames', 'generate', 'verify') GROUP BY stage""").to_dicts()
        paid = wh.query("SELECT count(*) FROM llm_calls WHERE created_at >= ?", [t0]).item()
        api = wh.query("SELECT count(*) FROM api_usage WHERE called_at >= ?", [t0]).item()
        trained = wh.query("""SELECT count(*) FROM runs WHERE started >= ? AND (stage LIKE 'train_%'
                              OR (stage = 'evaluate' AND params LIKE '%"model"%'))""", [t0]).item()
    assert {r["stage"]: json.loads(r["rows"]) for r in last} == {"frames": {}, "generate": {}, "verify": {}}
    assert (paid, api, trained) == (0, 0, 0)        # no model call, no search call, no training or evaluation job
    # ... and emitted no asset event: every stage's publish task was skipped, so nothing downstream was woken
    import sqlite3

    from jobs.stages import registered
    con = sqlite3.connect(home / "airflow" / "airflow.db")
    states = dict(con.execute("""SELECT dag_id, state FROM task_instance t WHERE task_id = 'work.publish'
                                 AND start_date = (SELECT max(start_date) FROM task_instance u
                                   WHERE u.dag_id = t.dag_id AND u.task_id = t.task_id)""").fetchall())
    assert {s: states.get(s) for s in registered()} == {s: "skipped" for s in registered()}
    # the chain ran in order: no asset-triggered run is left queued for a scheduler started later to replay
    assert con.execute("SELECT count(*) FROM asset_dag_run_queue").fetchone()[0] == 0


def test_malformed_bank_fails_listing_problems_and_changes_nothing(first_run, tmp_path):
    home, _, _ = first_run
    before = _counts(home)
    bad = tmp_path / "bad.yaml"
    bad.write_text("version: 1\ndisciplines:\n  - name: Astrology\n    subjects: []\n  - name: Healthcare\n")
    out = subprocess.run(VIDEOKR + ["stage", "knowledge_bank", "--param", f"source={bad}"], env=_env(home),
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 2
    assert "unknown discipline" in out.stderr and "missing level 'subjects'" in out.stderr
    assert _counts(home) == before
