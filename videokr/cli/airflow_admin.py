"""Airflow set-up for the embedded deployment: metadata DB, pools, and a login for the UI and REST API."""
from __future__ import annotations

import json
import secrets

from videokr.cli import airflow_env
from videokr.settings import Settings

# Pools cap concurrent use of external APIs and GPUs across every DAG (slots are defaults; edit in the UI).
POOLS = {
    "youtube_api": (2, "YouTube Data API calls (quota-bound)"),
    "llm_api": (8, "LLM/MLLM endpoint calls"),
    "moderation_api": (4, "Azure AI Content Safety calls"),
    "gpu": (1, "GPU workers for training and evaluation"),
}
USER = "admin"


def password_file(settings: Settings):
    return settings.airflow_home / "simple_auth_manager_passwords.json.generated"


def init(settings: Settings) -> dict:
    """Create the metadata DB, the pools and the admin login (idempotent). Returns {user, password}."""
    airflow_env.apply(settings)
    from airflow.models.pool import Pool
    from airflow.utils.db import initdb
    marker = settings.airflow_home / ".db-ready"
    if not marker.exists():
        initdb()
        marker.write_text("ok")
    for name, (slots, doc) in POOLS.items():
        Pool.create_or_update_pool(name, slots, doc, include_deferred=False)
    pw_file = password_file(settings)
    if not pw_file.exists():
        pw_file.write_text(json.dumps({USER: secrets.token_urlsafe(12)}))
    return login(settings)


def login(settings: Settings) -> dict:
    """The admin login created by `init`."""
    return {"user": USER, "password": json.loads(password_file(settings).read_text())[USER]}
