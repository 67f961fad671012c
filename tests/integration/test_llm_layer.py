"""The model layer against a loopback OpenAI-compatible server (pytest-httpserver, threaded).

Only the far end is replaced: the real `openai` client, the real cache file and the real warehouse are used.
"""
from __future__ import annotations

import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from jobs.llm import ModelLayer
from jobs.sources.base import ChatRequest, SolverAnswer

MODEL = "loop-model"


def completion(content: str, tokens_in: int = 1000, tokens_out: int = 200) -> dict:
    return {"id": "chatcmpl-1", "object": "chat.completion", "created": 0, "model": MODEL,
            "choices": [{"index": 0, "finish_reason": "stop",
                         "message": {"role": "assistant", "content": content}}],
            "usage": {"prompt_tokens": tokens_in, "completion_tokens": tokens_out,
                      "total_tokens": tokens_in + tokens_out}}


def answer_for(body: dict) -> str:
    """A valid SolverAnswer reply that echoes the question (so replies differ per request)."""
    q = body["messages"][-1]["content"]
    return json.dumps({"think": f"looked at: {q}", "answer": "B"})


class FakeOpenAI:
    """Serves /v1/chat/completions. `script` holds per-request behaviours (callables body -> Response) used
    first, in order; then `default`. Counts requests and the maximum in flight."""

    def __init__(self, server: HTTPServer):
        self.server = server
        self.lock = threading.Lock()
        self.calls = 0
        self.inflight = 0
        self.max_inflight = 0
        self.times: list[float] = []
        self.bodies: list[dict] = []
        self.script: list = []
        self.delay = 0.0
        self.default = lambda body: ok(answer_for(body))
        server.expect_request("/v1/chat/completions", method="POST").respond_with_handler(self.handle)

    @property
    def base_url(self) -> str:
        return self.server.url_for("/v1")

    def handle(self, request: Request) -> Response:
        body = request.get_json()
        with self.lock:
            self.calls += 1
            self.inflight += 1
            self.max_inflight = max(self.max_inflight, self.inflight)
            self.times.append(time.monotonic())
            self.bodies.append(body)
            step = self.script.pop(0) if self.script else self.default
        try:
            if self.delay:
                time.sleep(self.delay)
            return step(body)
        finally:
            with self.lock:
                self.inflight -= 1


def ok(content: str, tokens_in: int = 1000, tokens_out: int = 200) -> Response:
    return Response(json.dumps(completion(content, tokens_in, tokens_out)), 200, content_type="application/json")


def status(code: int, headers: dict | None = None):
    err = {"error": {"message": f"status {code}", "type": "server_error", "code": None}}
    return lambda body: Response(json.dumps(err), code, headers=headers or {}, content_type="application/json")


@pytest.fixture
def server():
    s = HTTPServer(threaded=True)
    s.start()
    yield s
    s.clear()
    if s.is_running():
        s.stop()


@pytest.fixture
def fake(server):
    return FakeOpenAI(server)


def llm_settings(settings, base_url: str, **over):
    role = {"backend": "openai", "base_url": base_url, "model": MODEL, "api_key_env": "VIDEOKR_TEST_LLM_KEY",
            "backoff_base_s": 0.01, "backoff_max_s": 0.05, "timeout_s": 5.0}
    role.update(over.pop("role", {}))
    settings.extra["llm"] = {"roles": {"solver": role},
                             "prices": {MODEL: {"input_per_mtok": 2.5, "output_per_mtok": 10.0}}, **over}
    return settings


@pytest.fixture(autouse=True)
def api_key(monkeypatch):
    monkeypatch.setenv("VIDEOKR_TEST_LLM_KEY", "sk-test-not-a-secret")


def req(i: int = 0, **kw) -> ChatRequest:
    return ChatRequest(role="solver", task="solve", schema=SolverAnswer, prompt_version="solve@1",
                       messages=[{"role": "user", "content": f"question {i}"}], **kw)


def ledger(wh) -> list[dict]:
    return wh.query("SELECT * FROM llm_calls ORDER BY created_at").to_dicts()


def test_429_then_success_honours_retry_after_ms(settings, wh, fake):
    fake.script = [status(429, {"retry-after-ms": "300"})]
    layer = ModelLayer(llm_settings(settings, fake.base_url), wh, "run-1")
    res = layer.call(req())
    assert res.ok and res.parsed.answer == "B" and res.error is None
    assert fake.calls == 2
    assert fake.times[1] - fake.times[0] >= 0.3          # waited as the server asked, not the 10 ms backoff
    layer.flush()
    (row,) = ledger(wh)
    assert row["status"] == "ok" and row["attempts"] == 2 and row["request_key"] == res.call_id
    assert row["call_id"].startswith(res.call_id + ".")     # unique per payment: the ledger is appended


def test_500s_until_retries_run_out_records_error(settings, wh, fake):
    fake.default = status(500)
    layer = ModelLayer(llm_settings(settings, fake.base_url, role={"max_retries": 2}), wh, "run-1")
    res = layer.call(req())                                 # no exception
    assert res.parsed is None and res.status == "error" and "http 500" in res.error
    assert fake.calls == 3                                  # 1 + 2 retries
    layer.flush()
    (row,) = ledger(wh)
    assert row["status"] == "error" and row["call_id"].startswith(f"{res.call_id}!") and row["attempts"] == 3


def test_timeout_is_retried(settings, wh, fake):
    def slow(body):
        time.sleep(1.5)
        return ok(answer_for(body))
    fake.script = [slow]
    layer = ModelLayer(llm_settings(settings, fake.base_url, role={"timeout_s": 0.4}), wh, "run-1")
    res = layer.call(req())
    assert res.ok and res.attempts == 2 and fake.calls == 2


def test_timeouts_until_retries_run_out(settings, wh, fake):
    def slow(body):
        time.sleep(1.0)
        return ok(answer_for(body))
    fake.default = slow
    layer = ModelLayer(llm_settings(settings, fake.base_url, role={"timeout_s": 0.2, "max_retries": 1}), wh, "r")
    res = layer.call(req())
    assert res.status == "error" and res.error == "timeout" and fake.calls == 2


def test_malformed_then_valid_json(settings, wh, fake):
    fake.script = [lambda body: ok('{"think": "unterminated'),
                   lambda body: ok('```json\n{"think": "fenced", "answer": "C"}\n```')]
    layer = ModelLayer(llm_settings(settings, fake.base_url), wh, "run-1")
    res = layer.call(req())
    assert res.ok and res.parsed.answer == "C" and res.attempts == 2
    layer.flush()
    (row,) = ledger(wh)
    assert row["tokens_in"] == 2000 and row["tokens_out"] == 400   # both attempts were paid for


def test_malformed_until_retries_run_out_is_recorded(settings, wh, fake):
    fake.default = lambda body: ok('{"think": "no answer field"}')
    layer = ModelLayer(llm_settings(settings, fake.base_url, role={"malformed_retries": 1}), wh, "run-1")
    res = layer.call(req())
    assert res.parsed is None and res.status == "malformed" and "schema mismatch" in res.error
    assert fake.calls == 2
    again = ModelLayer(llm_settings(settings, fake.base_url, role={"malformed_retries": 1}), wh, "run-2")
    again.call(req())
    assert fake.calls == 4                                 # a malformed reply is never cached


def test_structured_output_request_shape(settings, wh, fake):
    layer = ModelLayer(llm_settings(settings, fake.base_url), wh, "run-1")
    layer.call(req(0, temperature=0.7, context={"seed": 3, "video_id": "v1"}))
    body = fake.bodies[0]
    rf = body["response_format"]
    assert rf["type"] == "json_schema" and rf["json_schema"]["strict"] is True
    assert rf["json_schema"]["schema"]["additionalProperties"] is False
    assert body["temperature"] == 0.7 and body["seed"] == 3 and body["max_tokens"] == 2048
    assert "video_id" not in json.dumps(body)              # context never reaches a real endpoint
    plain = ModelLayer(llm_settings(settings, fake.base_url, role={"json_schema": False}, cache=False), wh, "r2")
    plain.call(req(0))
    assert "response_format" not in fake.bodies[1]


def test_rerun_makes_zero_http_calls(settings, wh, fake):
    reqs = [req(i) for i in range(6)] + [req(0)]            # a duplicate is sent once
    first = ModelLayer(llm_settings(settings, fake.base_url), wh, "run-1")
    r1 = first.call_many(reqs)
    first.flush()
    assert fake.calls == 6 and all(r.ok and not r.cached for r in r1)
    second = ModelLayer(llm_settings(settings, fake.base_url), wh, "run-2")
    r2 = second.call_many(reqs)
    second.flush()
    assert fake.calls == 6                                  # nothing paid twice
    assert all(r.cached for r in r2)
    assert [r.call_id for r in r2] == [r.call_id for r in r1]
    assert [r.parsed for r in r2] == [r.parsed for r in r1]
    # cache hits are counted in the run's totals, never written as ledger rows
    assert wh.query("SELECT count(*) FROM llm_calls WHERE run_id = 'run-2'").item() == 0
    assert second.ledger.totals["cache_hits"] == 6 and second.ledger.totals["cost_usd"] == 0


def test_a_paid_call_whose_ledger_row_was_lost_is_recorded_by_the_next_run(settings, wh, fake):
    """A crash after the reply was cached but before its chunk (with the ledger row) committed: the next run's
    hit on that entry is recorded as the paid call, once; later hits are free."""
    first = ModelLayer(llm_settings(settings, fake.base_url), wh, "run-1")
    first.call_many([req(i) for i in range(3)])           # paid, cached, never flushed: the process 'dies'
    assert wh.query("SELECT count(*) FROM llm_calls").item() == 0
    second = ModelLayer(llm_settings(settings, fake.base_url), wh, "run-2")
    second.call_many([req(i) for i in range(3)])
    second.flush()
    assert fake.calls == 3                                 # nothing paid twice
    rows = wh.query("SELECT * FROM llm_calls ORDER BY call_id").to_dicts()
    assert len(rows) == 3 and all(not r["cache_hit"] and r["call_id"].startswith(r["request_key"] + ".")
                                  and r["tokens_in"] > 0
                                  for r in rows)
    third = ModelLayer(llm_settings(settings, fake.base_url), wh, "run-3")
    third.call_many([req(i) for i in range(3)])
    third.flush()
    assert wh.query("SELECT count(*) FROM llm_calls").item() == 3 and third.ledger.totals["cache_hits"] == 3


def test_concurrency_cap_holds(settings, wh, fake):
    fake.delay = 0.15
    layer = ModelLayer(llm_settings(settings, fake.base_url, role={"concurrency": 4}), wh, "run-1")
    res = layer.call_many([req(i) for i in range(16)])
    assert all(r.ok for r in res)
    assert fake.calls == 16
    assert 2 <= fake.max_inflight <= 4
    # callers on their own threads (not call_many's pool) share the endpoint's slots too
    fake.max_inflight = 0
    with ThreadPoolExecutor(12) as pool:
        res = list(pool.map(layer.call, [req(100 + i) for i in range(12)]))
    assert all(r.ok for r in res) and fake.calls == 28
    assert 2 <= fake.max_inflight <= 4


def test_ledger_rows_land_with_tokens_and_cost(settings, wh, fake):
    fake.default = lambda body: ok(answer_for(body), tokens_in=1200, tokens_out=300)
    layer = ModelLayer(llm_settings(settings, fake.base_url), wh, "run-1")
    res = layer.call_many([req(i) for i in range(3)])
    assert layer.flush() == 3
    rows = ledger(wh)
    assert {r["request_key"] for r in rows} == {r.call_id for r in res} and len({r["call_id"] for r in rows}) == 3
    for r in rows:
        assert (r["role"], r["model"], r["task"], r["prompt_version"]) == ("solver", MODEL, "solve", "solve@1")
        assert (r["tokens_in"], r["tokens_out"], r["status"], r["cache_hit"]) == (1200, 300, "ok", False)
        assert r["cost_usd"] == pytest.approx((1200 * 2.5 + 300 * 10.0) / 1e6)
        assert r["latency_ms"] > 0 and r["run_id"] == "run-1" and r["created_at"] is not None
    assert layer.flush() == 0                               # nothing pending twice


def test_azure_backend_uses_deployment_path_api_version_and_key_header(settings, wh, fake, server):
    seen = []

    def azure(request: Request) -> Response:
        seen.append((request.path, request.args.get("api-version"), request.headers.get("api-key")))
        return fake.handle(request)
    server.expect_request(f"/openai/deployments/{MODEL}/chat/completions", method="POST").respond_with_handler(azure)
    llm_settings(settings, server.url_for(""), role={"backend": "azure", "api_version": "2024-10-21"})
    res = ModelLayer(settings, wh, "run-1").call(req())
    assert res.ok
    assert seen == [(f"/openai/deployments/{MODEL}/chat/completions", "2024-10-21", "sk-test-not-a-secret")]
