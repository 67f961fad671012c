"""A real Airflow (scheduler, dag-processor, triggerer, api-server) on a free loopback port, for one test module.

A test module may define `airflow_extra_env(root: Path) -> dict`: environment for the Airflow processes (e.g.
VIDEOKR_CONFIG for a `[review]` table), made in `root` before they start."""
from __future__ import annotations

import os

import pytest


@pytest.fixture(scope="module")
def airflow_server(tmp_path_factory, request):
    home = tmp_path_factory.mktemp("airflow-e2e") / "home"
    saved = {k: v for k, v in os.environ.items()
             if k.startswith(("VIDEOKR_", "AIRFLOW")) and k != "VIDEOKR_SAMPLE_CACHE"}
    for k in saved:
        del os.environ[k]
    os.environ["VIDEOKR_HOME"] = str(home)
    extra = getattr(request.module, "airflow_extra_env", None)
    if extra:
        os.environ.update(extra(home.parent))
    from videokr.cli.airflow_server import AirflowServer
    from videokr.cli.rest import AirflowREST
    from videokr.settings import Settings
    server = AirflowServer(Settings.load()).start()
    try:
        api = AirflowREST(server.url, server.login["user"], server.login["password"])
        yield server, api
    finally:
        server.stop()
        for k in [k for k in os.environ if k.startswith(("VIDEOKR_", "AIRFLOW")) and k != "VIDEOKR_SAMPLE_CACHE"]:
            del os.environ[k]
        os.environ.update(saved)
        still = [p.pid for p in server.procs.values() if p.poll() is None]
        assert not still, f"airflow processes left running: {still}"
