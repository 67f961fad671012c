"""Secrets scan: sentinel values for every secret, the stages run against loopback servers (with the fault suite's
30% faults, so error paths run too), then logs, every column of every table and every file under $VIDEOKR_HOME
are searched for the sentinels. None may appear; each must have reached its far end (else the scan proves nothing).

Secrets, given as users give them (environment variables; videokr.toml names the LLM key's variable): the LLM key,
the Azure Content Safety key, the YouTube key, and the Airflow deployment's JWT secret and API secret key (taken from
the environment by `videokr/cli/airflow_env.py` for a deployment across hosts).
"""
from __future__ import annotations

import io
import json
import logging
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from tests.reliability.faults import KINDS, Faults
from tests.reliability.table import check
from tests.reliability.test_azure_faults import good as azure_good, seed_media
from tests.reliability.test_llm_faults import seed_world, write_config
from tests.reliability.test_youtube_faults import LoopbackHttp, good as youtube_good

SENTINELS = {"llm": "sk-SENTINEL-llm-7f3a9c0e", "azure": "SENTINEL-azure-51c2e0aa", "youtube": "AIzaSENTINEL-yt-90b1d4",
             "jwt": "SENTINEL-jwt-3e8f1a77", "api": "SENTINEL-api-c44d02bb"}
QUICK = tuple(k for k in KINDS if k != "hang")      # error paths without the waits


def llm_good(request: Request) -> Response:
    from tests.integration.test_crash_resume import reply
    from tests.integration.test_llm_layer import completion
    return Response(json.dumps(completion(reply(request.get_json()))), 200, content_type="application/json")


@pytest.fixture
def far(tmp_path, monkeypatch):
    """One loopback server for the three APIs; what it received is kept to show each secret reached it."""
    server = HTTPServer(threaded=True)
    server.start()
    seen: list[str] = []

    def keep(handler):
        def h(request: Request) -> Response:
            seen.append(f"{request.full_path} {dict(request.headers)}")
            return handler(request)
        return h
    faults = Faults(seed=99, rate=0.3, kinds=QUICK, retry_after="0")
    for path, method, good in (("/youtube/v3/search", "GET", youtube_good), ("/youtube/v3/videos", "GET", youtube_good),
                               ("/contentsafety/text:analyze", "POST", azure_good),
                               ("/contentsafety/image:analyze", "POST", azure_good),
                               ("/v1/chat/completions", "POST", llm_good)):
        server.expect_request(path, method=method).respond_with_handler(keep(faults.wrap(good)))
    cfg = write_config(tmp_path, server.url_for("/v1"))
    cfg.write_text(cfg.read_text() + '\n[moderation]\nretries = 1\nretry_backoff_s = 0.01\ntimeout_s = 2\n'
                   'connect_timeout_s = 2\n[screen]\nframes_moderation = 2\n')
    env = {"VIDEOKR_HOME": str(tmp_path / "home"), "VIDEOKR_CONFIG": str(cfg), "VIDEOKR_MODERATION_SOURCE": "azure",
           "VIDEOKR_TEST_LLM_KEY": SENTINELS["llm"], "VIDEOKR_AZURE_CONTENT_SAFETY_KEY": SENTINELS["azure"],
           "VIDEOKR_AZURE_CONTENT_SAFETY_ENDPOINT": server.url_for("").rstrip("/"),
           "VIDEOKR_YOUTUBE_API_KEY": SENTINELS["youtube"], "AIRFLOW__API_AUTH__JWT_SECRET": SENTINELS["jwt"],
           "AIRFLOW__API__SECRET_KEY": SENTINELS["api"]}
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    yield server, seen, tmp_path / "home"
    server.clear()
    server.stop()


def run_stages(server, home: Path) -> str:
    """collect, screen (moderation), generate (through the CLI, a subprocess) and verify; returns the CLI's output."""
    from jobs import collect, screen, verify
    from jobs.sources.youtube import YouTubeSearch
    from videokr.settings import Settings
    from warehouse import Warehouse
    settings = Settings.load()
    seed_world(settings, 6)
    with Warehouse(settings) as wh:
        seed_media(wh, home.parent, 4)
    src = YouTubeSearch(Settings.secret("VIDEOKR_YOUTUBE_API_KEY"), {"retries": 1, "backoff_s": 0},
                        http=LoopbackHttp(server.url_for("/"), timeout=2), sleep=lambda s: None)
    collect.run(settings, ["physics"], {"keywords_per_kp": 1}, source=src)
    screen.run(settings, params={"phase": "moderate"})
    cli = subprocess.run([sys.executable, "-m", "videokr.cli", "stage", "generate"], capture_output=True, text=True,
                         timeout=300)
    assert cli.returncode == 0, cli.stderr[-2000:]
    verify.run(settings)
    return cli.stdout + cli.stderr


def airflow_deployment_env(home: Path) -> dict:
    """The Airflow environment of a deployment across hosts (its secrets from the environment), as apply() sets it."""
    from videokr.cli import airflow_env
    from videokr.settings import Settings
    saved = dict(os.environ)
    try:
        return airflow_env.apply(Settings.load(executor="celery", broker_url="redis://127.0.0.1:9/0",
                                               airflow_db_url="postgresql+psycopg2://u@127.0.0.1:9/airflow"))
    finally:
        os.environ.clear()
        os.environ.update(saved)


def table_hits(settings, pattern: str) -> dict[str, int]:
    """table -> rows whose text (every column, as the row's text) matches `pattern`; one statement."""
    from warehouse import Warehouse
    with Warehouse(settings, read_only=True) as wh:
        parts = [f"SELECT '{t}', count(*) FROM \"{t}\" x WHERE regexp_matches(x::VARCHAR, $p)" for t in wh.tables()]
        return {t: n for t, n in wh.con.execute(" UNION ALL ".join(parts), {"p": pattern}).fetchall() if n}


def file_hits(home: Path, needles: dict[str, str]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for root, _, files in os.walk(home):
        for f in files:
            data = (Path(root) / f).read_bytes()
            found = [name for name, s in needles.items() if s.encode() in data]
            if found:
                out[str(Path(root, f).relative_to(home))] = found
    return out


def test_no_secret_in_logs_tables_or_files(far, capfd):
    from videokr.settings import Settings
    server, seen, home = far
    log_text = io.StringIO()
    handler = logging.StreamHandler(log_text)
    handler.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))
    # the loopback server's own access log is the far end's (it is sent the key by design), not ours
    handler.addFilter(lambda record: not record.name.startswith("werkzeug"))
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)                    # every library's debug output too (URLs, headers, bodies)
    try:
        cli_output = run_stages(server, home)
    finally:
        root.removeHandler(handler)
        root.setLevel(level)
    deployment = airflow_deployment_env(home)
    out, err = capfd.readouterr()
    logs = "\n".join([log_text.getvalue(), cli_output, out, err])
    far_end = "\n".join(seen)

    reached = [k for k in ("llm", "azure", "youtube") if SENTINELS[k] in far_end]
    check("secrets: each API key reached its far end", "llm, azure, youtube keys seen by the loopback server",
          f"{reached}; {len(seen)} requests", reached == ["llm", "azure", "youtube"])
    check("secrets: deployment secrets taken from the env", "the Airflow env apply() builds carries the JWT and "
          "API sentinels", sorted(k for k, v in deployment.items() if v in SENTINELS.values()),
          deployment.get("AIRFLOW__API_AUTH__JWT_SECRET") == SENTINELS["jwt"]
          and deployment.get("AIRFLOW__API__SECRET_KEY") == SENTINELS["api"])
    in_logs = [k for k, s in SENTINELS.items() if s in logs]
    check("secrets: none in logs", "0 sentinels in DEBUG logs of every library, stdout/stderr, the CLI's output",
          f"{len(logs):,} chars of logs; found {in_logs}", not in_logs and len(logs) > 10_000)
    settings = Settings.load()
    pattern = "|".join(re.escape(s) for s in SENTINELS.values())
    in_tables = table_hits(settings, pattern)
    control = table_hits(settings, "Lecture 1")    # the scan finds what is there
    check("secrets: none in any table", "0 rows of any table (every column, as text) hold a sentinel",
          f"found {in_tables}; control finds {sum(control.values())} rows", not in_tables and control)
    in_files = file_hits(home, SENTINELS)
    generated = json.loads((home / "airflow" / "secrets.json").read_text())["jwt"]
    control = file_hits(home, {"generated": generated})
    n_files = sum(len(f) for _, _, f in os.walk(home))
    check("secrets: none in any file under $VIDEOKR_HOME", f"0 of the files hold a sentinel (control: the "
          "home's own generated secret is found)", f"{n_files} files; found {in_files}; control {list(control)}",
          not in_files and list(control) == ["airflow/secrets.json"])
