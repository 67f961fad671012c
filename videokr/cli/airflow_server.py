"""Start and stop a real Airflow on loopback: scheduler, dag-processor, triggerer and api-server (and, with the
Celery executor, Celery workers) as processes whose pids we keep (so we stop exactly what we started). Used by
`make airflow`, `videokr run --scheduler` and the end-to-end tests."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from videokr.cli import airflow_admin, airflow_env
from videokr.settings import Settings

COMPONENTS = ("dag-processor", "scheduler", "triggerer", "api-server")
# The Celery workers of the deployment (docker-compose runs the same): name -> queues. Training tasks use queue "gpu".
WORKERS = {"worker": "default", "worker-gpu": "default,gpu"}


def worker_command(name: str, queues: str) -> list[str]:
    """`airflow celery worker ...`: a distinct Celery node name per worker (name@host, recorded with each task in the
    result backend) and the queues it serves. Task logs go to the shared log folder, so no log server is needed.
    One task at a time (the solo pool, see airflow_env): run more workers for more parallel tasks."""
    return ["celery", "worker", "--celery-hostname", f"{name}@%h", "--queues", queues, "--skip-serve-logs"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class AirflowServer:
    def __init__(self, settings: Settings, port: int | None = None, components=COMPONENTS,
                 workers: dict[str, str] | None = None):
        self.settings = settings
        self.port = port or free_port()
        self.components = components
        self.workers = workers or {}
        if self.workers and settings.executor != "celery":
            raise ValueError("Celery workers need executor 'celery' (VIDEOKR_EXECUTOR=celery)")
        self.procs: dict[str, subprocess.Popen] = {}
        self.login: dict = {}

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 240) -> "AirflowServer":
        env_vars = airflow_env.apply(self.settings)
        # metadata DB, pools and login in a child process: Airflow binds its DB engine once per process, so an
        # in-process init would reuse whatever home this process configured first
        subprocess.run([sys.executable, "-m", "videokr.cli", "airflow", "init"], env=dict(os.environ) | env_vars,
                       check=True, capture_output=True, timeout=300)
        self.login = airflow_admin.login(self.settings)
        env = dict(os.environ) | env_vars | {"AIRFLOW__API__PORT": str(self.port),
                                             "AIRFLOW__API__BASE_URL": self.url,
                                             "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{self.url}/execution/"}
        logs = self.settings.airflow_home / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        # the API server first: task runners report to it, so a scheduler that starts runs before it listens
        # makes them fail ("failed: None" in runs)
        order = sorted(self.components, key=lambda n: n != "api-server")
        for name in order:
            cmd = [sys.executable, "-m", "airflow", name] + (["--port", str(self.port)] if name == "api-server" else [])
            out = open(logs / f"{name}.out", "ab")
            self.procs[name] = subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT,
                                                start_new_session=True)
            if name == "api-server":
                self.wait_ready(timeout, need_scheduler=False)
        for name, queues in self.workers.items():
            cmd = [sys.executable, "-m", "airflow", *worker_command(name, queues),
                   "--pid", str(self.settings.airflow_home / f"{name}.pid")]
            out = open(logs / f"{name}.out", "ab")
            self.procs[name] = subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT,
                                                start_new_session=True)
        (self.settings.airflow_home / "pids").write_text(
            "\n".join(f"{n} {p.pid}" for n, p in self.procs.items()) + "\n")
        self.wait_ready(timeout, need_scheduler="scheduler" in self.components)
        return self

    def wait_ready(self, timeout: float, need_scheduler: bool = True) -> None:
        deadline = time.time() + timeout
        while time.time() < deadline:
            dead = {n: p.returncode for n, p in self.procs.items() if p.poll() is not None}
            if dead:
                raise RuntimeError(f"airflow components exited early: {dead}; see {self.settings.airflow_home}/logs")
            try:
                r = httpx.get(f"{self.url}/api/v2/monitor/health", timeout=2)
                if r.status_code == 200 and (not need_scheduler
                                             or r.json().get("scheduler", {}).get("status") == "healthy"):
                    return
            except httpx.HTTPError:
                pass
            time.sleep(1)
        raise TimeoutError(f"airflow not healthy at {self.url} after {timeout}s")

    def stop(self) -> None:
        """SIGTERM each component's process group (by pid), then SIGKILL what is left."""
        for p in self.procs.values():
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGTERM)
        deadline = time.time() + 30
        for p in self.procs.values():
            try:
                p.wait(max(0.1, deadline - time.time()))
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait(10)

    def __enter__(self) -> "AirflowServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def logs_dir(settings: Settings) -> Path:
    return settings.airflow_home / "logs"
