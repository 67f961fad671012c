"""The deployment files parse and reference the project's images, entrypoints and environment."""
from __future__ import annotations

import re

import yaml

from videokr.settings import REPO_ROOT, Settings

DOCKER = REPO_ROOT / "docker"


def _compose() -> dict:
    return yaml.safe_load((DOCKER / "docker-compose.yaml").read_text())


def test_compose_parses_and_wires_celery_redis_postgres():
    c = _compose()
    services = c["services"]
    assert {"postgres", "redis", "scheduler", "dag-processor", "triggerer", "api-server", "worker",
            "worker-gpu", "airflow-init"} <= set(services)
    env = services["scheduler"]["environment"]
    assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
    assert env["AIRFLOW__CELERY__BROKER_URL"].startswith("redis://redis")
    assert env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].startswith("postgresql+psycopg2://")
    assert env["VIDEOKR_CATALOG_URL"].startswith("postgres:")           # DuckLake catalog on Postgres
    cmd = services["worker-gpu"]["command"]
    assert "gpu" in cmd[cmd.index("--queues") + 1].split(",")              # the GPU worker also serves `gpu`


def test_compose_environment_names_real_settings():
    fields = {f"VIDEOKR_{f.upper()}" for f in Settings.__dataclass_fields__}
    env = _compose()["services"]["scheduler"]["environment"]
    for key in (k for k in env if k.startswith("VIDEOKR_")):
        assert key in fields or key.startswith(("VIDEOKR_YOUTUBE_", "VIDEOKR_AZURE_")), key


def test_compose_images_are_built_from_the_project_dockerfiles():
    services = _compose()["services"]
    for name in ("scheduler", "worker-gpu"):
        dockerfile = services[name]["build"]["dockerfile"]
        assert (REPO_ROOT / dockerfile).is_file(), dockerfile
    init = (DOCKER / "postgres-init.sql").read_text()
    assert "CREATE DATABASE ducklake" in init


def test_dockerfiles_copy_the_layout_and_pin_torch():
    for name in ("airflow.Dockerfile", "worker-gpu.Dockerfile"):
        text = (DOCKER / name).read_text()
        for folder in ("videokr", "warehouse", "jobs", "dags", "plugins", "train", "sql"):
            assert re.search(rf"^COPY {folder} ", text, re.M), (name, folder)
        assert "torch==2.14.1" in text and "torchvision==0.29.1" in text
    assert "FROM nvidia/cuda" in (DOCKER / "worker-gpu.Dockerfile").read_text()


def test_gpu_image_runs_the_launcher_commands_as_given():
    """The launchers pass `python -m train.<module> ...` whole: no ENTRYPOINT may prefix it, and the module exists."""
    from train.launchers import MODULES, WORKDIR, TrainJob, docker_spec
    text = (DOCKER / "worker-gpu.Dockerfile").read_text()
    assert not re.search(r"^ENTRYPOINT", text, re.M)
    assert re.findall(r"^WORKDIR (\S+)", text, re.M)[-1] == WORKDIR
    for module in MODULES:
        spec = docker_spec(TrainJob(module, {"model": "m"}), image="videokr/worker-gpu:latest")
        assert spec["working_dir"] == WORKDIR and spec["command"][:3] == ["python", "-m", module]
        assert (REPO_ROOT / (module.replace(".", "/") + ".py")).is_file()
