"""Shared fixtures: a temporary VIDEOKR_HOME and a warehouse on it (real DuckLake, SQLite catalog)."""
from __future__ import annotations

import os

import pytest

os.environ.setdefault("OMP_NUM_THREADS", "1")


@pytest.fixture
def home(tmp_path, monkeypatch):
    h = tmp_path / "home"
    h.mkdir()
    monkeypatch.setenv("VIDEOKR_HOME", str(h))
    return h


@pytest.fixture
def settings(home):
    from videokr.settings import Settings
    return Settings.load()


@pytest.fixture
def wh(settings):
    from warehouse import Warehouse
    w = Warehouse(settings)
    yield w
    w.close()


@pytest.fixture(scope="session")
def postgres(tmp_path_factory):
    """A real PostgreSQL server on loopback for the session (fails clearly when the package is missing)."""
    import shutil
    import tempfile
    from pathlib import Path

    from tests.postgres_server import PostgresServer
    root = Path(tempfile.mkdtemp(prefix="videokr-pg-"))  # not under pytest's 0700 tmp: the postgres user must reach it
    server = PostgresServer(root).start()
    yield server
    server.stop()
    shutil.rmtree(root, ignore_errors=True)
