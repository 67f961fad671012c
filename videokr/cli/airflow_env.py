"""Airflow configuration from the settings, applied before airflow is imported.

executor "local" (embedded): a SQLite metadata DB, the LocalExecutor, logs under $VIDEOKR_HOME/airflow.
executor "celery" (a deployment, one host or many): the metadata DB on Postgres (also the Celery result backend) and
a Redis broker, both reachable by every host. `docker/docker-compose.yaml` sets exactly what `build` returns (a test
checks it), so the Celery test's processes and the compose services run one configuration."""
from __future__ import annotations

import json
import os
import secrets
from urllib.parse import urlsplit

from videokr.settings import REPO_ROOT, Settings

SECRET_KEYS = ("AIRFLOW__API_AUTH__JWT_SECRET", "AIRFLOW__API__SECRET_KEY")
# Celery workers import the heavy libraries the stages use once, at start: each task is forked from its worker and
# starts warm (sentence-transformers alone takes ~10 s to import). No project module: a task runs the current jobs/.
WORKER_PRELOAD = ["polars", "duckdb", "pyarrow.compute", "av", "cv2", "openai", "torch", "sentence_transformers"]
# result_extended: the result backend records the worker (its --celery-hostname) and queue of every task
CELERY_CONFIG = json.dumps({"result_extended": True, "imports": WORKER_PRELOAD})


def _secrets(home) -> dict[str, str]:
    """Per-home secrets shared by every Airflow process (the api-server signs task tokens with the JWT secret)."""
    path = home / "secrets.json"
    if not path.exists():
        path.write_text(json.dumps({"jwt": secrets.token_urlsafe(32), "api": secrets.token_urlsafe(32)}))
        path.chmod(0o600)
    return json.loads(path.read_text())


def _deployment(settings: Settings) -> dict[str, str]:
    """What the executor needs beyond the embedded configuration."""
    env: dict[str, str] = {}
    if settings.airflow_db_url:
        env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] = settings.airflow_db_url
    if settings.api_url:
        env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"] = settings.api_url.rstrip("/") + "/execution/"
        if urlsplit(settings.api_url).hostname not in ("127.0.0.1", "localhost"):
            env["AIRFLOW__API__HOST"] = "0.0.0.0"   # workers on other hosts reach the api-server
    if settings.executor == "local":
        return env
    if settings.executor != "celery":
        raise ValueError(f"executor {settings.executor!r} is not one of: local, celery (VIDEOKR_EXECUTOR)")
    db = settings.airflow_db_url
    if not settings.broker_url or not db.startswith("postgresql"):
        raise ValueError("executor 'celery' needs VIDEOKR_BROKER_URL (redis://host:6379/0) and VIDEOKR_AIRFLOW_DB_URL "
                         f"(postgresql+psycopg2://...), both reachable by every host; got broker {settings.broker_url!r}"
                         f" and metadata DB {db.split('@')[-1]!r}")
    return env | {
        "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
        "AIRFLOW__CELERY__BROKER_URL": settings.broker_url,
        "AIRFLOW__CELERY__RESULT_BACKEND": "db+" + db,
        "AIRFLOW__CELERY__EXTRA_CELERY_CONFIG": CELERY_CONFIG,
        # Airflow 3.3 forks each task from the Celery pool process. Prefork's pool processes are daemonic, and a
        # daemonic process may not start children, which a stage with a process pool (frames) needs: the solo pool
        # runs tasks in the worker's own process, one at a time (more parallel tasks: more workers)
        "AIRFLOW__CELERY__POOL": "solo",
        # a shared deployment spends real quotas: its DAGs start paused until an operator unpauses them
        "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "True",
    }


def build(settings: Settings, keys: dict[str, str] | None = None) -> dict[str, str]:
    """The Airflow environment of `settings` (secrets from `keys`, else left out)."""
    home = settings.airflow_home
    env = {
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(REPO_ROOT / "dags"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(REPO_ROOT / "plugins"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
        "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(home / "logs"),
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": "admin:admin",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(home / "simple_auth_manager_passwords.json.generated"),
        "AIRFLOW__API__HOST": "127.0.0.1",
        "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
        "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
        "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
        "VIDEOKR_HOME": str(settings.home),
    } | _deployment(settings)
    if keys:
        env |= {"AIRFLOW__API_AUTH__JWT_SECRET": keys["jwt"], "AIRFLOW__API__SECRET_KEY": keys["api"]}
    return env


def apply(settings: Settings) -> dict[str, str]:
    home = settings.airflow_home
    home.mkdir(parents=True, exist_ok=True)
    keys = _secrets(home)
    if settings.executor != "local" and all(os.environ.get(k) for k in SECRET_KEYS):
        # a deployment across hosts passes its shared secrets in the environment (as docker-compose does)
        keys = {"jwt": os.environ[SECRET_KEYS[0]], "api": os.environ[SECRET_KEYS[1]]}
    env = build(settings, keys)
    os.environ.update(env)
    return env
