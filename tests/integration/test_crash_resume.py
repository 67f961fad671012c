"""kill -9 a stage mid-run, rerun it, and get exactly a clean run's tables; nothing paid twice for committed work.

The stage runs as `videokr stage <name>` in a subprocess against a loopback OpenAI-compatible server (the only
thing replaced). The server counts requests and sends SIGKILL to the stage process when the K-th one arrives.
Then the stage is rerun to completion, and every table it writes is compared with a clean run's (content hash
over all columns but run_id and timestamps). Requests repeated across the killed run and its rerun may only be
the ones in flight at the kill (at most the endpoint's concurrency); every paid call is in the ledger once.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import signal
import subprocess
import sys
import threading
from collections import Counter
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from tests.integration.test_llm_layer import completion

pytestmark = pytest.mark.slow
CONCURRENCY = 2
SUBJECTS = ("physics", "chemistry")
N_VIDEOS = 10
VOLATILE = {"run_id", "created_at", "quarantined_at", "latency_ms", "attempts"}
NONCES = {"llm_calls": {"call_id"}}   # a ledger id is unique per payment; its request_key is compared
TABLES = {"generate": ["candidates", "quarantine", "item_fingerprints", "llm_calls"],
          "verify": ["checks", "verified_qa", "quarantine", "item_fingerprints", "llm_calls"]}


def reply(body: dict) -> str:
    """A valid reply per task, decided by what the request carries (its schema name and text)."""
    name = body["response_format"]["json_schema"]["name"]
    text = json.dumps(body["messages"])
    if name == "GeneratedQA":
        title = re.search(r"Lecture \d+", text).group(0)
        items = [{"skill": s, "problem_type": "multiple choice", "question": f"In {title}, which {s}?",
                  "options": ["A. one", "B. two", "C. three", "D. four"], "answer": "ABC"[i],
                  "think": f"Step 1: the video shows {title}. Step 2: so {'ABC'[i]}."}
                 for i, s in enumerate(("basic_video_reasoning", "knowledge_enhanced_perception",
                                        "knowledge_intensive_reasoning"))]
        if "Lecture 7" in title:                      # an invalid item: quarantined, deterministically
            items[0]["options"] = ["A. only"]
        return json.dumps({"items": items})
    if name == "SolverAnswer":
        return json.dumps({"think": "looked", "answer": "B" if "which knowledge" in text else "A"})
    return json.dumps({"steps": [{"step": "Step 1", "grounded": True, "basis": "video"}],
                       "valid": "Lecture 3" not in text})


class Endpoint:
    def __init__(self, server: HTTPServer):
        self.lock = threading.Lock()
        self.seen: list[str] = []
        self.kill_at: int | None = None
        self.pid: int | None = None
        server.expect_request("/v1/chat/completions", method="POST").respond_with_handler(self.handle)
        self.url = server.url_for("/v1")

    def handle(self, request: Request) -> Response:
        body = request.get_json()
        with self.lock:
            self.seen.append(hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest())
            if self.kill_at is not None and len(self.seen) == self.kill_at and self.pid:
                os.kill(self.pid, signal.SIGKILL)
        return Response(json.dumps(completion(reply(body))), 200, content_type="application/json")


@pytest.fixture
def endpoint():
    s = HTTPServer(threaded=True)
    s.start()
    yield Endpoint(s)
    s.clear()
    s.stop()


def make_home(root: Path, url: str) -> dict:
    home = root / "home"
    home.mkdir(parents=True)
    (root / "videokr.toml").write_text(f"""
[llm]
backend = "openai"
base_url = "{url}"
model = "loop-model"
api_key_env = "VIDEOKR_TEST_LLM_KEY"
concurrency = {CONCURRENCY}
backoff_base_s = 0.01
backoff_max_s = 0.05
[llm.roles.solver]
model = "loop-solver"
[llm.roles.blind_solver]
model = "loop-solver"
[llm.roles.cot_validator]
model = "loop-validator"
[llm.prices."loop-model"]
input_per_mtok = 2.5
output_per_mtok = 10.0
[llm.prices."loop-solver"]
input_per_mtok = 2.5
output_per_mtok = 10.0
[llm.prices."loop-validator"]
input_per_mtok = 2.5
output_per_mtok = 10.0
[review]
require_approved_models = false      # no [review] pool here: the roles are configured by hand
[generate]
attach_frames = false
chunk_videos = 2
[verify]
attach_frames = false
chunk_videos = 2
k = 2
n = 2
m = 1
""")
    env = dict(os.environ, VIDEOKR_HOME=str(home), VIDEOKR_CONFIG=str(root / "videokr.toml"),
               VIDEOKR_TEST_LLM_KEY="sk-test-not-a-secret", OMP_NUM_THREADS="1")
    seed(env)
    return env


def _settings(env: dict):
    from videokr.settings import Settings
    return Settings(home=Path(env["VIDEOKR_HOME"]))       # the catalog and data paths follow the home


def seed(env: dict) -> None:
    seed_world(_settings(env), N_VIDEOS)


def seed_world(settings, n: int) -> None:
    """`n` kept videos over two subjects with their knowledge points (what generate reads), no media rendered."""
    from warehouse import Warehouse, stage_run
    with Warehouse(settings) as wh, stage_run(wh, "fixture") as r:
        vids = [(f"vid{i:08d}", SUBJECTS[i % 2], f"kp-{i:04d}") for i in range(n)]
        r.write("subjects", [{"subject_id": s, "discipline_id": "x", "name": s.title(), "position": i}
                             for i, s in enumerate(SUBJECTS)])
        r.write("knowledge_points", [{"kp_id": k, "subject_id": s, "name": f"Point {k}",
                                      "statement": f"The principle of {k}.", "keywords": [k]} for _, s, k in vids])
        r.write("videos", [{"video_id": v, "subject_id": s, "kp_id": k, "title": f"Lecture {i}",
                            "description": "A lecture."} for i, (v, s, k) in enumerate(vids)])
        r.write("screening", [{"video_id": v, "subject_id": s, "kp_id": k, "decision": "keep"} for v, s, k in vids])
        r.write("downloads", [{"video_id": v, "subject_id": s, "path": f"/nonexistent/{v}.mp4", "status": "ok"}
                              for v, s, _ in vids])


def run_stage(stage: str, env: dict, endpoint: Endpoint, kill_at: int | None = None) -> int:
    proc = subprocess.Popen([sys.executable, "-m", "videokr.cli", "stage", stage], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    with endpoint.lock:
        endpoint.pid, endpoint.kill_at = proc.pid, (len(endpoint.seen) + kill_at if kill_at else None)
    _, err = proc.communicate(timeout=300)
    with endpoint.lock:
        endpoint.pid = endpoint.kill_at = None
    if kill_at is None:
        assert proc.returncode == 0, err[-3000:]
    return proc.returncode


def snapshot(env: dict, tables: list[str]) -> dict:
    """table -> (rows, sha256 of the sorted rows without run ids and timestamps), and the run and ledger counts."""
    from warehouse import Warehouse
    with Warehouse(_settings(env), read_only=True) as wh:
        out = {}
        for t in tables:
            rows = wh.query(f"SELECT * FROM {t}").to_dicts()
            drop = VOLATILE | NONCES.get(t, set())
            docs = sorted(json.dumps({k: v for k, v in r.items() if k not in drop}, sort_keys=True, default=str)
                          for r in rows if r.get("stage", "x") != "fixture")
            out[t] = (len(docs), hashlib.sha256("\n".join(docs).encode()).hexdigest())
        killed = wh.query("SELECT count(*) FROM runs WHERE status = 'failed' AND error LIKE 'killed:%'").item()
        running = wh.query("SELECT count(*) FROM runs WHERE status = 'running'").item()
        paid = wh.query("SELECT count(*) FROM llm_calls WHERE NOT cache_hit AND status = 'ok'").item()
    return {"tables": out, "killed": killed, "running": running, "paid": paid}


@pytest.mark.parametrize("stage,kills", [("generate", (0.1, 0.45, 0.8)), ("verify", (0.07, 0.4, 0.9))])
def test_kill_9_then_rerun_equals_a_clean_run(tmp_path, endpoint, stage, kills):
    def prepare(name: str) -> dict:       # a DuckLake home cannot be copied elsewhere: build each one
        env = make_home(tmp_path / name, endpoint.url)
        if stage == "verify":
            run_stage("generate", env, endpoint)
        return env

    clean_env = prepare("clean")
    start = len(endpoint.seen)
    run_stage(stage, clean_env, endpoint)
    clean_requests = endpoint.seen[start:]
    clean = snapshot(clean_env, TABLES[stage])
    assert clean["paid"] >= len(set(clean_requests)) and clean["tables"]["item_fingerprints"][0] > 0
    # kill at 3 points spread over the clean run's requests (early exit makes their number data-dependent)
    for k in sorted({max(1, int(f * len(clean_requests))) for f in kills}):
        env_k = prepare(f"kill{k}")
        before = len(endpoint.seen)
        assert run_stage(stage, env_k, endpoint, kill_at=k) == -signal.SIGKILL
        run_stage(stage, env_k, endpoint)
        sent = endpoint.seen[before:]
        got = snapshot(env_k, TABLES[stage])
        assert got["tables"] == clean["tables"], f"kill at request {k}: tables differ from a clean run"
        repeated = sum((Counter(sent) - Counter(clean_requests)).values())   # k samples are identical bodies
        assert repeated <= CONCURRENCY, f"kill at {k}: {repeated} requests repeated (only those in flight may be)"
        assert set(sent) == set(clean_requests)
        assert got["killed"] == 1 and got["running"] == 0, "the rerun marks the killed run failed"
        again = len(endpoint.seen)
        run_stage(stage, env_k, endpoint)                 # unchanged inputs: no request at all, no new rows
        assert len(endpoint.seen) == again and snapshot(env_k, TABLES[stage])["tables"] == clean["tables"]
