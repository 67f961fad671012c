"""Headless Chromium (Debian's package) against the real Airflow UI: every stage DAG is listed, a graph renders, the
task logs of a run made by `videokr run` (in-process, dag.test) show in the UI, and every DAG's trigger form accepts
its documented defaults. Screenshots are kept in test-artifacts/ (CI keeps them as artifacts)."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from urllib.parse import quote

import pytest

from tests.e2e.airflow_fixture import airflow_server  # noqa: F401  (fixture)
from videokr.settings import REPO_ROOT

pytestmark = pytest.mark.slow
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = REPO_ROOT / "test-artifacts"
RUN_LOG_LINE = "knowledge_points inserted="     # written by the knowledge_bank job inside its work.run_stage task


def airflow_extra_env(root: Path) -> dict:
    """Before the module's Airflow starts: `videokr run --stop-after knowledge_bank` in its home, so the UI has a
    DAG run made in-process by `videokr run` (the path `make run` takes)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VIDEOKR_", "AIRFLOW"))
           or k == "VIDEOKR_SAMPLE_CACHE"} | {"VIDEOKR_HOME": str(root / "home"), "OMP_NUM_THREADS": "1"}
    out = subprocess.run([sys.executable, "-m", "videokr.cli", "run", "--stop-after", "knowledge_bank"], env=env,
                         cwd=REPO_ROOT, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    assert "knowledge_bank" in out.stdout and "Filling up the DagBag" not in out.stdout   # quiet: progress only
    return {}


FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
         "--disable-sync", "--no-first-run", "--disable-quic"]


@pytest.fixture(scope="module")
def page(airflow_server):
    if not Path(CHROMIUM).exists():
        pytest.fail("chromium is not installed (apt-get install chromium chromium-driver; .ci/run does it)")
    from playwright.sync_api import sync_playwright
    server, _ = airflow_server
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
        pg = browser.new_page(viewport={"width": 1400, "height": 900})
        pg.goto(server.url + "/", wait_until="networkidle")
        pg.fill("input[name=username]", server.login["user"])
        pg.fill("input[name=password]", server.login["password"])
        pg.keyboard.press("Enter")
        pg.wait_for_url(lambda u: "/auth/login" not in u, timeout=60_000)
        yield server, pg
        browser.close()


def test_dag_list_shows_every_stage(page):
    server, pg = page
    from jobs.stages import registered
    stages = registered()
    pg.goto(server.url + "/dags?limit=50", wait_until="networkidle")
    for s in stages:
        pg.get_by_text(s, exact=True).first.wait_for(timeout=90_000)
    pg.screenshot(path=str(ARTIFACTS / "dag_list.png"), full_page=True)


def test_graph_view_renders(page):
    server, pg = page
    pg.goto(server.url + "/dags/knowledge_bank", wait_until="networkidle")
    pg.get_by_label("Show Graph").first.click()
    nodes = pg.locator(".react-flow__node")
    nodes.first.wait_for(timeout=60_000)
    pg.screenshot(path=str(ARTIFACTS / "knowledge_bank_graph.png"), full_page=True)
    texts = " ".join(n.inner_text() for n in nodes.all())
    assert "scope" in texts and "work" in texts        # the DAG's task groups are drawn as graph nodes


def test_task_logs_of_a_videokr_run_show_in_the_ui(page, airflow_server):
    server, pg = page
    _, api = airflow_server
    runs = api.get("/dags/knowledge_bank/dagRuns")["dag_runs"]
    assert runs and runs[0]["triggered_by"] == "test"          # made by `videokr run` (dag.test), not the scheduler
    run_id = runs[0]["dag_run_id"]
    pg.goto(f"{server.url}/dags/knowledge_bank/runs/{quote(run_id)}/tasks/work.run_stage", wait_until="networkidle")
    pg.get_by_text(RUN_LOG_LINE).first.wait_for(timeout=90_000)   # the Logs tab, read from the task's log file
    pg.screenshot(path=str(ARTIFACTS / "videokr_run_task_log.png"), full_page=True)
    assert pg.get_by_text("knowledge_points inserted=299").count() >= 1


def test_every_trigger_form_accepts_its_defaults(page):
    """An empty field that means "the configured value" (knowledge_bank's source, train's base) must not keep the
    Trigger button disabled: each DAG's form, untouched, can be submitted."""
    server, pg = page
    from jobs.stages import MODULES
    disabled = []
    for dag_id in MODULES:
        pg.goto(f"{server.url}/dags/{dag_id}", wait_until="networkidle")
        pg.get_by_role("button", name="Trigger").first.click()
        dialog = pg.get_by_role("dialog")
        dialog.get_by_text("Run Parameters").first.wait_for(timeout=60_000)
        pg.wait_for_timeout(500)                                  # the form validates its fields once rendered
        submit = dialog.get_by_role("button", name="Trigger", exact=True)
        if submit.is_disabled():
            disabled.append(dag_id)
            pg.screenshot(path=str(ARTIFACTS / f"trigger_form_{dag_id}.png"))
        pg.keyboard.press("Escape")
    assert not disabled, f"trigger form disabled with its defaults: {disabled}"
