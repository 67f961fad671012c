"""Airflow configuration for the embedded deployment: a SQLite metadata DB and logs under $VIDEOKR_HOME/airflow,
the project's dags/ and plugins/ folders. Must be applied before airflow is imported."""
from __future__ import annotations

import os

from videokr.settings import REPO_ROOT, Settings


def apply(settings: Settings) -> dict[str, str]:
    home = settings.airflow_home
    home.mkdir(parents=True, exist_ok=True)
    env = {
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(REPO_ROOT / "dags"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(REPO_ROOT / "plugins"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
        "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(home / "logs"),
        "VIDEOKR_HOME": str(settings.home),
    }
    os.environ.update(env)
    return env
