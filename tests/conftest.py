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


# CI sees only the tail of a run it stops at its time limit: say as we go which tests are slow, and when.
_SLOW_S = float(os.environ.get("VIDEOKR_TEST_SLOW_S", "20"))
_t0: list[float] = [__import__("time").time()]
_spent: dict[str, float] = {}


def pytest_runtest_logreport(report):
    import time
    _spent[report.nodeid] = _spent.get(report.nodeid, 0.0) + report.duration
    if report.when != "teardown" or _spent[report.nodeid] < _SLOW_S:
        return
    tr = _TERMINAL[0] if _TERMINAL else None
    if tr is not None:
        tr.write_line(f"[slow] {report.nodeid} took {_spent[report.nodeid]:.0f}s "
                      f"(at {(time.time() - _t0[0]) / 60:.1f} min)")


_TERMINAL: list = []


def pytest_collection_finish(session):
    tr = session.config.pluginmanager.get_plugin("terminalreporter")
    if tr is not None:
        _TERMINAL.append(tr)
