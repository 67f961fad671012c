"""The multi-worker deployment of docker/docker-compose.yaml, running for real on this machine without Docker.

CeleryExecutor, Redis broker, Postgres metadata DB and result backend, two Celery workers (one also on queue
"gpu"), the DuckLake catalog on Postgres (see deployment_fixture). The chain runs through the mapped stages for two
subjects (two partitions per mapped stage, so both workers get work), and the warehouse must equal a single-process
run of the same stages and scope. A unit check ties docker-compose's environment to the same settings."""
from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
import yaml

from tests.e2e.deployment_fixture import celery_deployment, deployment_env, table_contents  # noqa: F401 (fixture)
from videokr.settings import REPO_ROOT

SUBJECTS = ["medicine", "electrical-engineering"]   # both have candidates: 2 partitions per mapped stage
STAGES = ["knowledge_bank", "collect", "screen", "frames", "generate", "verify"]   # through the mapped stages
MAPPED = ("frames", "generate", "verify")
COMPOSE = REPO_ROOT / "docker" / "docker-compose.yaml"
IMAGE_ROOT = "/opt/videokr"   # where the images install the repository (docker/airflow.Dockerfile)


def _task_instances(db_url: str, run_ids: dict[str, str]) -> list[dict]:
    """Each task instance of these DAG runs, with the Celery worker and queue that ran it (result backend)."""
    import sqlalchemy as sa
    engine = sa.create_engine(db_url)
    try:
        with engine.connect() as con:
            rows = con.execute(sa.text(
                "SELECT ti.dag_id, ti.task_id, ti.map_index, ti.state, ti.hostname, ti.pid, m.worker, m.queue "
                "FROM task_instance ti LEFT JOIN celery_taskmeta m ON m.task_id = ti.external_executor_id "
                "WHERE ti.dag_id = ANY(:dags) AND ti.run_id = ANY(:runs) ORDER BY ti.start_date"),
                {"dags": list(run_ids), "runs": list(run_ids.values())}).mappings().all()
    finally:
        engine.dispose()
    return [dict(r) for r in rows]


def _diagnose(server) -> str:
    logs = server.settings.airflow_home / "logs"
    return "\n".join(f"--- {p.name}\n{p.read_text(errors='replace')[-3000:]}" for p in sorted(logs.glob("*.out")))


@pytest.mark.slow
def test_chain_runs_on_both_workers_and_equals_a_single_process_run(celery_deployment):
    d = celery_deployment
    server, api, settings = d["server"], d["api"], d["settings"]
    workers = {name.split("@")[0]: queues for name, queues in d["queues"].items()}
    assert workers == {"worker": {"default"}, "worker-gpu": {"default", "gpu"}}, d["queues"]

    api.wait_for_dags(STAGES)
    for s in STAGES:   # a deployment's DAGs start paused: only these run, so the chain stops after verify
        api.unpause(s)
    t_chain = time.time()
    api.trigger("knowledge_bank", {"subjects": SUBJECTS})
    runs = {}
    for s in STAGES:
        run = api.wait_run(s, 0, timeout=900)
        assert run["state"] == "success", f"{s}: {run}\n{_diagnose(server)}"
        runs[s] = run["dag_run_id"]
    chain_s = time.time() - t_chain

    tis = _task_instances(settings.airflow_db_url, runs)
    print(f"\nchain over Celery: {chain_s:.0f}s; task instances (dag, task, map index -> worker, queue, pid):")
    for t in tis:
        print(f"  {t['dag_id']:15} {t['task_id']:22} {t['map_index']:>3} -> {t['worker']} {t['queue']} pid {t['pid']}")
    assert all(t["state"] == "success" and t["worker"] for t in tis), tis
    mapped = [t for t in tis if t["map_index"] >= 0]
    assert {t["dag_id"] for t in mapped} == set(MAPPED)
    for s in MAPPED:   # one partition per subject
        assert sorted(t["map_index"] for t in mapped if t["dag_id"] == s) == list(range(len(SUBJECTS))), s
    assert {t["worker"].split("@")[0] for t in mapped} == {"worker", "worker-gpu"}, mapped
    assert {t["queue"] for t in tis} == {"default"}   # CPU stages: nothing here asks for the gpu queue

    reference = d["reference"]
    assert reference.wait(timeout=900) == 0, (d["reference_home"] / "reference.log").read_text()[-5000:]
    print(f"single-process reference done; test so far {time.time() - d['t0']:.0f}s")
    from videokr.settings import Settings
    from warehouse import Warehouse
    got, want = table_contents(settings), table_contents(Settings(home=d["reference_home"]))
    assert {"knowledge_points", "videos", "screening", "window_hashes", "candidates", "verified_qa"} <= set(got)
    for name, tables in (("celery", got), ("reference", want)):   # kept with the logs when the test fails
        (d["reference_home"].parent / f"tables-{name}.json").write_text(json.dumps(tables, indent=0))
    only = {t: ("only celery" if t in got else "only reference", (got.get(t) or want.get(t))[:3])
            for t in set(got) ^ set(want)}
    assert not only, only
    differ = {t: (len(got[t]), len(want[t]), sorted(set(got[t]) ^ set(want[t]))[:3]) for t in got if got[t] != want[t]}
    assert not differ, differ
    print("tables equal to the single-process run: " + ", ".join(f"{t} {len(r)}" for t, r in sorted(got.items())))
    with Warehouse(settings, read_only=True) as wh:
        stage_runs = wh.query("SELECT stage, status, count(*) n FROM runs GROUP BY ALL ORDER BY ALL")
    assert set(stage_runs["status"]) == {"success"} and set(stage_runs["stage"]) == set(STAGES), stage_runs
    assert dict(zip(stage_runs["stage"], stage_runs["n"]))["frames"] == len(SUBJECTS)   # a run per partition


def test_compose_deploys_the_configuration_the_celery_test_runs():
    """docker-compose's Airflow environment is what airflow_env.build makes of compose's own VIDEOKR_* settings (the
    image installs the repository at /opt/videokr), has the keys the test's loopback deployment has, and runs the
    test's workers with the same queues. Secrets come from the operator's environment."""
    from videokr.cli import airflow_env
    from videokr.cli.airflow_server import WORKERS, worker_command
    from videokr.settings import Settings
    compose = yaml.safe_load(COMPOSE.read_text())
    env = compose["x-videokr-env"]

    def settings_of(v: dict) -> Settings:
        return Settings(**{k.removeprefix("VIDEOKR_").lower(): val for k, val in v.items()
                           if k.removeprefix("VIDEOKR_").lower() in ("home", "executor", "airflow_db_url", "broker_url",
                                                                       "api_url", "catalog_url", "data_path")})

    def airflow_part(e: dict) -> dict:
        return {k: v for k, v in e.items() if k.startswith("AIRFLOW") and k not in secrets}

    secrets = {*airflow_env.SECRET_KEYS, "AIRFLOW__CORE__FERNET_KEY"}
    assert all(str(env[k]).startswith("${") for k in secrets), {k: env.get(k) for k in secrets}
    expected = {k: v.replace(str(REPO_ROOT), IMAGE_ROOT) for k, v in airflow_env.build(settings_of(env)).items()}
    assert airflow_part(env) == airflow_part(expected)
    assert env["VIDEOKR_HOME"] == expected["VIDEOKR_HOME"]

    loopback = deployment_env(Path("/tmp/h"), 5432, "airflow", "ducklake", "redis://127.0.0.1:6379/0", 8080)
    assert set(airflow_part(airflow_env.build(settings_of(loopback)))) == set(airflow_part(env))
    assert {k for k in env if k.startswith("VIDEOKR_")} >= set(loopback)

    for name, queues in WORKERS.items():
        assert compose["services"][name]["command"] == worker_command(name, queues), name
        assert compose["services"][name]["environment"] is env
