"""The multi-worker deployment on this machine, without Docker, for one test module.

Redis and PostgreSQL (Debian's packages) on loopback; Airflow's scheduler, dag-processor, triggerer and api-server
with the CeleryExecutor (metadata DB and result backend on Postgres, broker Redis); the two Celery workers of
docker/docker-compose.yaml (`WORKERS`: one also serves queue "gpu"); the DuckLake catalog on Postgres. Every process
is started here, kept by pid and stopped at the end, also on failure. Beside it, a single-process reference run of
the same stages and scope (`videokr stage`, embedded SQLite catalog) to compare the tables with."""
from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from tests.postgres_server import PostgresServer

# what a single-process run writes differently by nature: run ids, per-call uuids, clock readings, and fingerprints
# that include file paths and mtimes (the stage's change detection)
IGNORED_COLUMNS = {"run_id"}
IGNORED_BY_TABLE = {"api_usage": {"call_id", "called_at"}, "llm_calls": {"call_id", "created_at", "latency_ms"},
                    "quarantine": {"quarantined_at"}, "item_fingerprints": {"fingerprint"}}
NOT_COMPARED = {"runs", "schema_versions"}   # catalog bookkeeping, checked separately
# `videokr stage` for each stage in one process (a `-c` program: stages that spawn processes must not re-run it)
REFERENCE = ("import sys\nfrom videokr.cli.main import main\nfor s in sys.argv[2:]:\n"
             "    rc = main(['stage', s, '--subjects', sys.argv[1]])\n"
             "    if rc:\n        sys.exit(f'videokr stage {s}: exit {rc}')\n")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class RedisServer:
    """redis-server on a free loopback port, no persistence; stopped by pid."""

    def __init__(self, root: Path):
        self.exe = shutil.which("redis-server") or "/usr/bin/redis-server"
        if not Path(self.exe).exists():
            raise RuntimeError("redis-server not found (apt-get install redis-server)")
        self.root, self.port, self.proc = root, free_port(), None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, timeout: float = 30) -> "RedisServer":
        self.root.mkdir(parents=True, exist_ok=True)
        self.proc = subprocess.Popen([self.exe, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                                      "--appendonly", "no", "--dir", str(self.root)],
                                     stdout=open(self.root / "redis.log", "ab"), stderr=subprocess.STDOUT)
        deadline = time.time() + timeout
        while time.time() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1) as s:
                    s.sendall(b"PING\r\n")
                    if s.recv(64).startswith(b"+PONG"):
                        return self
            except OSError:
                if self.proc.poll() is not None:
                    raise RuntimeError(f"redis-server exited: {(self.root / 'redis.log').read_text()[-2000:]}")
            time.sleep(0.2)
        raise TimeoutError(f"redis-server not answering on {self.port}")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)


def database(pg: PostgresServer) -> str:
    """A new database on `pg`; returns its name."""
    dsn = pg.create_database()
    return dict(part.split("=", 1) for part in dsn.split(":", 1)[1].split())["dbname"]


def deployment_env(home: Path, pg_port: int, airflow_db: str, catalog_db: str, redis_url: str,
                   api_port: int) -> dict[str, str]:
    """The VIDEOKR_* settings of the deployment on loopback (docker-compose sets the same, with its hosts)."""
    return {"VIDEOKR_HOME": str(home), "VIDEOKR_EXECUTOR": "celery",
            "VIDEOKR_AIRFLOW_DB_URL": f"postgresql+psycopg2://postgres@127.0.0.1:{pg_port}/{airflow_db}",
            "VIDEOKR_BROKER_URL": redis_url, "VIDEOKR_API_URL": f"http://127.0.0.1:{api_port}",
            "VIDEOKR_CATALOG_URL": f"postgres:dbname={catalog_db} host=127.0.0.1 port={pg_port} user=postgres",
            "VIDEOKR_DATA_PATH": str(home / "lake") + "/"}


def start_reference(home: Path, subjects: list[str], stages: list[str]) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VIDEOKR_", "AIRFLOW"))}
    env |= {"VIDEOKR_HOME": str(home), "VIDEOKR_SAMPLE_CACHE": os.environ.get("VIDEOKR_SAMPLE_CACHE", ""),
            "OMP_NUM_THREADS": "1"}
    home.mkdir(parents=True)
    return subprocess.Popen([sys.executable, "-c", REFERENCE, ",".join(subjects), *stages], env=env,
                            stdout=open(home / "reference.log", "ab"), stderr=subprocess.STDOUT,
                            start_new_session=True)


def table_contents(settings) -> dict[str, list[str]]:
    """Every non-empty table's rows (sorted, as text), without the columns a rerun writes differently and with the
    home folder in paths replaced, so two homes' runs compare on content."""
    import duckdb
    import polars as pl

    from warehouse import Warehouse
    out = {}
    with Warehouse(settings, read_only=True) as wh:
        for t in wh.tables():
            if t in NOT_COMPARED:
                continue
            try:
                df = wh.query(f'SELECT * FROM "{t}"')
            except duckdb.CatalogException:   # never written in this home
                continue
            if df.is_empty():
                continue
            df = df.drop([c for c in df.columns if c in IGNORED_COLUMNS | IGNORED_BY_TABLE.get(t, set())])
            df = df.with_columns(pl.col(pl.Utf8).str.replace_all(str(settings.home), "<home>", literal=True))
            out[t] = sorted(repr(r) for r in df.rows())
    return out


def worker_queues(broker_url: str) -> dict[str, set[str]]:
    """The queues each live Celery worker consumes, asked over the broker (celery's remote control)."""
    from celery import Celery
    app = Celery(broker=broker_url)
    try:
        answer = app.control.inspect(timeout=1).active_queues() or {}   # idle local workers answer at once
    finally:
        app.close()
    return {name: {q["name"] for q in queues} for name, queues in answer.items()}


def wait_workers(broker_url: str, names: list[str], procs: dict, timeout: float = 180) -> dict[str, set[str]]:
    deadline = time.time() + timeout
    while time.time() < deadline:
        dead = {n: p.returncode for n, p in procs.items() if p.poll() is not None}
        if dead:
            raise RuntimeError(f"processes exited early: {dead}")
        queues = worker_queues(broker_url)
        if {n.split("@")[0] for n in queues} >= set(names):
            return queues
        time.sleep(2)
    raise TimeoutError(f"Celery workers {names} not answering within {timeout}s")


def _gone(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return True
    return False


@pytest.fixture(scope="module")
def celery_deployment(postgres, request):
    """The test module names its scope: SUBJECTS and STAGES (the reference runs exactly those).
    Yields a dict: server, api (REST client), settings, redis, queues, reference (Popen), reference_home, t0."""
    from videokr.cli.airflow_server import WORKERS, AirflowServer
    from videokr.cli.rest import AirflowREST
    from videokr.settings import Settings
    subjects, stages = request.module.SUBJECTS, request.module.STAGES
    t0 = time.time()
    root = Path(tempfile.mkdtemp(prefix="videokr-celery-"))
    saved = {k: v for k, v in os.environ.items()
             if k.startswith(("VIDEOKR_", "AIRFLOW")) and k != "VIDEOKR_SAMPLE_CACHE"}
    for k in saved:
        del os.environ[k]
    redis, server, reference = RedisServer(root / "redis"), None, None
    try:
        reference = start_reference(root / "reference", subjects, stages)   # runs while Airflow starts
        redis.start()
        port = free_port()
        os.environ.update(deployment_env(root / "home", postgres.port, database(postgres), database(postgres),
                                         redis.url, port))
        settings = Settings.load()
        server = AirflowServer(settings, port=port, workers=WORKERS)
        server.start()
        queues = wait_workers(redis.url, list(WORKERS), server.procs)
        api = AirflowREST(server.url, server.login["user"], server.login["password"])
        yield {"server": server, "api": api, "settings": settings, "redis": redis, "queues": queues,
               "reference": reference, "reference_home": root / "reference", "t0": t0}
        if not request.session.testsfailed:
            shutil.rmtree(root, ignore_errors=True)   # else kept, with every process's log, for a look
    finally:
        procs = dict(server.procs) if server else {}
        if server:
            server.stop()
        if reference and reference.poll() is None:
            os.killpg(reference.pid, signal.SIGKILL)
            reference.wait(10)
        redis.stop()
        for k in [k for k in os.environ if k.startswith(("VIDEOKR_", "AIRFLOW")) and k != "VIDEOKR_SAMPLE_CACHE"]:
            del os.environ[k]
        os.environ.update(saved)
        left = [n for n, p in procs.items() if p.poll() is None or not _gone(p.pid)]
        assert not left and redis.proc.poll() is not None, f"processes left running: {left}"
