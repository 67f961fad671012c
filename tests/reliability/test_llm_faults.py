"""30% injected faults on the LLM endpoint (the real `openai` client, a loopback server): generate then verify.

The run completes; every HTTP attempt the server saw is in `llm_calls` (sum of `attempts`); every call that failed
for good has its item quarantined with a reason; a rerun sends no request that was answered successfully before.
"""
from __future__ import annotations

import json
import os
from collections import Counter
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from tests.integration.test_crash_resume import reply, seed_world
from tests.integration.test_llm_layer import completion
from tests.reliability.faults import Faults, body_hash
from tests.reliability.table import check, scale

SEED = 20260


def write_config(root: Path, url: str) -> Path:
    cfg = root / "videokr.toml"
    models = "\n".join(f'[llm.prices."{m}"]\ninput_per_mtok = 2.5\noutput_per_mtok = 10.0'
                       for m in ("loop-model", "loop-solver", "loop-validator"))
    cfg.write_text(f"""
[llm]
backend = "openai"
base_url = "{url}"
model = "loop-model"
api_key_env = "VIDEOKR_TEST_LLM_KEY"
concurrency = 2
timeout_s = 1.0
max_retries = 1
backoff_base_s = 0.01
backoff_max_s = 0.05
[llm.roles.solver]
model = "loop-solver"
[llm.roles.blind_solver]
model = "loop-solver"
[llm.roles.cot_validator]
model = "loop-validator"
{models}
[review]
require_approved_models = false
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
    return cfg


@pytest.fixture
def llm_world(tmp_path, monkeypatch):
    server = HTTPServer(threaded=True)
    server.start()
    faults = Faults(SEED, rate=0.3, hang_s=1.6)
    good = lambda req: Response(json.dumps(completion(reply(req.get_json()))), 200,  # noqa: E731
                                content_type="application/json")
    server.expect_request("/v1/chat/completions", method="POST").respond_with_handler(faults.wrap(good))
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("VIDEOKR_HOME", str(home))
    monkeypatch.setenv("VIDEOKR_CONFIG", str(write_config(tmp_path, server.url_for("/v1"))))
    monkeypatch.setenv("VIDEOKR_TEST_LLM_KEY", "sk-test-not-a-secret")
    from videokr.settings import Settings
    settings = Settings.load()
    seed_world(settings, scale(8, 40))
    yield settings, faults
    server.clear()
    server.stop()


def _ledger(settings) -> dict:
    from warehouse import Warehouse
    with Warehouse(settings, read_only=True) as wh:
        return {
            "attempts": wh.query("SELECT coalesce(sum(attempts), 0) FROM llm_calls WHERE NOT cache_hit").item(),
            "failed": wh.query("SELECT count(*) FROM llm_calls WHERE status <> 'ok' AND NOT cache_hit").item(),
            "runs": wh.query("SELECT stage, status FROM runs WHERE stage <> 'fixture' ORDER BY started").rows(),
            "quarantine": Counter(r for (r,) in wh.query("SELECT reason FROM quarantine").rows()),
            "unquarantined_failures": wh.query("""
                SELECT count(*) FROM videos v WHERE NOT EXISTS (SELECT 1 FROM item_fingerprints f
                    WHERE f.stage = 'generate' AND f.item = v.video_id)
                AND NOT EXISTS (SELECT 1 FROM quarantine q WHERE q.stage = 'generate' AND q.item = v.video_id)""").item(),
        }


def test_llm_30pct_faults_generate_verify(llm_world):
    from jobs import generate, verify
    settings, faults = llm_world
    for stage in (generate, verify):
        stage.run(settings)                                   # must not raise
    first = _ledger(settings)
    seen = len(faults.log)
    kinds = faults.counts()
    check("LLM 30% faults: run completes", "generate and verify runs end 'success'",
          first["runs"], first["runs"] == [("generate", "success"), ("verify", "success")])
    check("LLM 30% faults: every kind injected", "429, 5xx, hang, truncated, malformed, malformed 200 all seen",
          dict(kinds), all(kinds[k] for k in ("429", "5xx", "hang", "truncated", "malformed", "malformed_200")))
    check("LLM 30% faults: every attempt in llm_calls", f"sum(attempts) == {seen} requests served",
          first["attempts"], first["attempts"] == seen)
    n_q = sum(n for reason, n in first["quarantine"].items() if reason.endswith("_failed"))
    check("LLM 30% faults: failed items quarantined", "every video without output has a quarantine row; "
          "failed calls > 0 and quarantined", f"{first['failed']} failed calls, quarantine {dict(first['quarantine'])},"
          f" {first['unquarantined_failures']} unquarantined", first["failed"] > 0 and n_q > 0
          and first["unquarantined_failures"] == 0)

    ok_before = faults.ok_requests()
    failed_before = {h for k, h in faults.log if k != "ok"}
    for stage in (generate, verify):
        stage.run(settings)
    rerun = faults.log[seen:]
    repeated = [h for _, h in rerun if h in ok_before and h not in failed_before]
    check("LLM rerun: no successful call repeated", "0 rerun requests answered OK before",
          f"{len(rerun)} rerun requests, {len(repeated)} repeated successes", not repeated and len(rerun) > 0)
    second = _ledger(settings)
    check("LLM rerun: every attempt in llm_calls", f"sum(attempts) == {len(faults.log)}", second["attempts"],
          second["attempts"] == len(faults.log))
