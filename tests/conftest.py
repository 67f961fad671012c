"""Shared fixtures: a temporary VIDEOKR_HOME and a warehouse on it (real DuckLake, SQLite catalog)."""
from __future__ import annotations

import os
import tempfile

import pytest

os.environ.setdefault("OMP_NUM_THREADS", "1")
# Sample-world renders are content-addressed by spec hash: every test home shares one render folder, so the
# library is rendered once per machine, not once per test (tests of rendering itself pass their own Settings).
os.environ.setdefault("VIDEOKR_SAMPLE_CACHE", os.path.join(tempfile.gettempdir(), "videokr-test-renders"))


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
