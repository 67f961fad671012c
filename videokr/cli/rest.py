"""A small client for Airflow's REST API v2 (token from /auth/token)."""
from __future__ import annotations

import time

import httpx


class AirflowREST:
    def __init__(self, base_url: str, user: str, password: str):
        self.base = base_url.rstrip("/")
        r = httpx.post(f"{self.base}/auth/token", json={"username": user, "password": password}, timeout=30)
        r.raise_for_status()
        self.client = httpx.Client(base_url=f"{self.base}/api/v2", timeout=60,
                                   headers={"Authorization": f"Bearer {r.json()['access_token']}"})

    def get(self, path: str, **params) -> dict:
        r = self.client.get(path, params=params)
        r.raise_for_status()
        return r.json()

    def dags(self) -> list[dict]:
        return self.get("/dags", limit=100)["dags"]

    def wait_for_dags(self, dag_ids: list[str], timeout: float = 180) -> None:
        deadline = time.time() + timeout
        while time.time() < deadline:
            if set(dag_ids) <= {d["dag_id"] for d in self.dags()}:
                return
            time.sleep(2)
        raise TimeoutError(f"DAGs not parsed in time: {set(dag_ids) - {d['dag_id'] for d in self.dags()}}")

    def unpause(self, dag_id: str) -> None:
        self.client.patch(f"/dags/{dag_id}", json={"is_paused": False}).raise_for_status()

    def trigger(self, dag_id: str, conf: dict | None = None) -> str:
        r = self.client.post(f"/dags/{dag_id}/dagRuns", json={"logical_date": None, "conf": conf or {}})
        r.raise_for_status()
        return r.json()["dag_run_id"]

    def runs(self, dag_id: str) -> list[dict]:
        return self.get(f"/dags/{dag_id}/dagRuns", order_by="-run_after", limit=20)["dag_runs"]

    def wait_run(self, dag_id: str, after_count: int = 0, timeout: float = 1800) -> dict:
        """Wait until `dag_id` has more than `after_count` runs and the newest one finished."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            runs = self.runs(dag_id)
            if len(runs) > after_count and runs[0]["state"] in ("success", "failed"):
                return runs[0]
            time.sleep(2)
        raise TimeoutError(f"{dag_id}: no finished run within {timeout}s")
