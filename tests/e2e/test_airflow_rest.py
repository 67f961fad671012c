"""The chain through the real scheduler: trigger the first DAG over REST v2, asset events run the rest."""
from __future__ import annotations

import json

import pytest
import yaml

from tests.e2e.airflow_fixture import airflow_server  # noqa: F401  (fixture)

pytestmark = pytest.mark.slow
SUBJECT = "economics"


def _wh():
    from videokr.settings import Settings
    from warehouse import Warehouse
    return Warehouse(Settings.load(), read_only=True)


def test_rest_triggered_chain_runs_every_stage_for_the_scope(airflow_server):
    server, api = airflow_server
    from jobs.stages import registered
    stages = registered()
    api.wait_for_dags(stages)
    before = {s: len(api.runs(s)) for s in stages}
    for s in stages:
        api.unpause(s)
    api.trigger("knowledge_bank", {"subjects": []})
    for s in stages:
        run = api.wait_run(s, before[s], timeout=1800)
        assert run["state"] == "success", f"{s}: {run}"
    with _wh() as wh:
        assert wh.query("SELECT count(*) n FROM knowledge_points")["n"][0] >= 200
        runs = wh.query("SELECT stage, status FROM runs WHERE status = 'success'")
        assert set(stages) <= set(runs["stage"].to_list())


def test_unknown_subject_fails_before_any_work(airflow_server):
    server, api = airflow_server
    n = len(api.runs("knowledge_bank"))
    api.trigger("knowledge_bank", {"subjects": ["astrology"]})
    run = api.wait_run("knowledge_bank", n, timeout=300)
    assert run["state"] == "failed"
    tis = api.get(f"/dags/knowledge_bank/dagRuns/{run['dag_run_id']}/taskInstances")["task_instances"]
    states = {t["task_id"]: t["state"] for t in tis}
    assert states["scope.check_subjects"] == "failed"
    assert states["work.run_stage"] in ("upstream_failed", None)


def test_subject_backfill_touches_only_that_subject(airflow_server, tmp_path):
    server, api = airflow_server
    from videokr.settings import Settings
    bank = yaml.safe_load(open(Settings.load().knowledge_bank))
    for d in bank["disciplines"]:
        for s in d["subjects"]:
            for c in s["courses"]:
                for lec in c["lectures"]:
                    for kp in lec["knowledge_points"]:
                        kp["statement"] += " (revised)"
    src = tmp_path / "bank.yaml"
    src.write_text(yaml.safe_dump(bank, allow_unicode=True))
    with _wh() as wh:
        others = wh.query("SELECT * FROM knowledge_points WHERE subject_id <> ? ORDER BY kp_id", [SUBJECT])
    n = len(api.runs("knowledge_bank"))
    api.trigger("knowledge_bank", {"subjects": [SUBJECT], "source": str(src)})
    assert api.wait_run("knowledge_bank", n, timeout=300)["state"] == "success"
    with _wh() as wh:
        mine = wh.query("SELECT statement FROM knowledge_points WHERE subject_id = ?", [SUBJECT])
        assert mine.height and all(s.endswith("(revised)") for s in mine["statement"])
        after = wh.query("SELECT * FROM knowledge_points WHERE subject_id <> ? ORDER BY kp_id", [SUBJECT])
        assert after.equals(others)  # rows and their run ids untouched
        scope = wh.query("SELECT scope FROM runs WHERE stage = 'knowledge_bank' ORDER BY started DESC LIMIT 1")
        assert json.loads(scope["scope"][0]) == {"subjects": [SUBJECT]}
