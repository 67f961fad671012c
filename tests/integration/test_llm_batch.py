"""Batch API round trip against a loopback server: /v1/files, /v1/batches, /v1/batches/<id>,
/v1/files/<id>/content, and /v1/chat/completions for the synchronous fallback."""
from __future__ import annotations

import json
import random
import re
import threading

import pytest
from werkzeug import Request, Response

from jobs.llm import ModelLayer
from tests.integration.test_llm_layer import (MODEL, FakeOpenAI, answer_for, api_key, completion,  # noqa: F401
                                              llm_settings, req, server)


class FakeBatches:
    """Stores uploaded files; a batch answers `polls_before_done` polls with in_progress, then completes with an
    output file computed from the input lines (in shuffled order). Items whose question is in `malformed`
    get a reply that does not validate."""

    def __init__(self, server, polls_before_done: int = 2):
        self.files: dict[str, bytes] = {}
        self.batches: dict[str, dict] = {}
        self.polls: dict[str, int] = {}
        self.polls_before_done = polls_before_done
        self.malformed: set[str] = set()
        self.requests: list[str] = []
        self.lock = threading.Lock()
        server.expect_request("/v1/files", method="POST").respond_with_handler(self.upload)
        server.expect_request("/v1/batches", method="POST").respond_with_handler(self.create)
        server.expect_request(re.compile(r"^/v1/batches/[^/]+$"), method="GET").respond_with_handler(self.retrieve)
        server.expect_request(re.compile(r"^/v1/files/[^/]+/content$"), method="GET").respond_with_handler(self.content)

    def _json(self, obj) -> Response:
        return Response(json.dumps(obj), 200, content_type="application/json")

    def upload(self, request: Request) -> Response:
        with self.lock:
            self.requests.append("upload")
            fid = f"file-{len(self.files) + 1}"
            self.files[fid] = request.files["file"].read()
        assert request.form["purpose"] == "batch"
        return self._json({"id": fid, "object": "file", "bytes": len(self.files[fid]), "created_at": 0,
                           "filename": "in.jsonl", "purpose": "batch", "status": "processed"})

    def create(self, request: Request) -> Response:
        body = request.get_json()
        with self.lock:
            self.requests.append("create")
            bid = f"batch-{len(self.batches) + 1}"
            self.batches[bid] = {"id": bid, "object": "batch", "endpoint": body["endpoint"],
                                 "input_file_id": body["input_file_id"], "completion_window": body["completion_window"],
                                 "status": "validating", "created_at": 0, "output_file_id": None,
                                 "error_file_id": None}
            self.polls[bid] = 0
        return self._json(self.batches[bid])

    def retrieve(self, request: Request) -> Response:
        bid = request.path.rsplit("/", 1)[1]
        with self.lock:
            self.requests.append("retrieve")
            b = self.batches[bid]
            self.polls[bid] += 1
            if self.polls[bid] > self.polls_before_done and b["status"] != "completed":
                b["output_file_id"] = self._run(b["input_file_id"])
                b["status"] = "completed"
            elif b["status"] == "validating":
                b["status"] = "in_progress"
        return self._json(b)

    def _run(self, input_file_id: str) -> str:
        lines = [json.loads(x) for x in self.files[input_file_id].decode().splitlines() if x.strip()]
        out = []
        for ln in lines:
            assert ln["method"] == "POST" and ln["url"] == "/v1/chat/completions"
            q = ln["body"]["messages"][-1]["content"]
            content = '{"think": "cut' if q in self.malformed else answer_for(ln["body"])
            out.append({"id": "r", "custom_id": ln["custom_id"], "error": None,
                        "response": {"status_code": 200, "request_id": "x",
                                     "body": completion(content, 500, 100)}})
        random.Random(0).shuffle(out)                      # results come back in any order
        fid = f"file-{len(self.files) + 1}"
        self.files[fid] = "".join(json.dumps(o) + "\n" for o in out).encode()
        return fid

    def content(self, request: Request) -> Response:
        fid = request.path.split("/")[3]
        with self.lock:
            self.requests.append("content")
        return Response(self.files[fid], 200, content_type="application/octet-stream")


@pytest.fixture
def endpoints(server):
    return FakeOpenAI(server), FakeBatches(server)


def batch_settings(settings, base_url, **over):
    return llm_settings(settings, base_url, batch_tasks=["solve"], batch_poll_s=0.01, **over)


def test_batch_round_trip_maps_results_by_custom_id(settings, wh, endpoints):
    chat, batches = endpoints
    layer = ModelLayer(batch_settings(settings, chat.base_url), wh, "run-1")
    reqs = [req(i) for i in range(5)]
    res = layer.call_many(reqs)
    assert batches.requests[:2] == ["upload", "create"] and batches.requests[-1] == "content"
    assert chat.calls == 0                                  # all through the batch
    for i, r in enumerate(res):                              # mapped back to the right request despite shuffling
        assert r.ok and r.via_batch and r.parsed.think == f"looked at: question {i}"
    lines = [json.loads(x) for x in batches.files["file-1"].decode().splitlines()]
    assert sorted(ln["custom_id"] for ln in lines) == sorted(r.call_id for r in res)
    assert all(ln["body"]["model"] == MODEL and "response_format" in ln["body"] for ln in lines)
    layer.flush()
    rows = wh.query("SELECT * FROM llm_calls").to_dicts()
    assert len(rows) == 5 and all(r["via_batch"] and r["status"] == "ok" for r in rows)
    assert rows[0]["cost_usd"] == pytest.approx((500 * 2.5 + 100 * 10.0) / 1e6 * 0.5)   # batch discount
    # results went into the cache: a rerun uploads nothing and calls nothing
    n = len(batches.requests)
    again = ModelLayer(batch_settings(settings, chat.base_url), wh, "run-2").call_many(reqs)
    assert len(batches.requests) == n and chat.calls == 0 and all(r.cached for r in again)


def test_batch_malformed_item_falls_back_to_sync_call(settings, wh, endpoints):
    chat, batches = endpoints
    batches.malformed = {"question 1"}
    layer = ModelLayer(batch_settings(settings, chat.base_url), wh, "run-1")
    res = layer.call_many([req(i) for i in range(3)])
    assert all(r.ok for r in res)
    assert chat.calls == 1 and not res[1].via_batch and res[0].via_batch
    layer.flush()
    rows = wh.query("SELECT * FROM llm_calls WHERE request_key = ? ORDER BY via_batch", [res[1].call_id]).to_dicts()
    # two payments for one request, two rows: the paid batch reply that was malformed, then the synchronous retry
    assert [(r["status"], r["via_batch"]) for r in rows] == [("ok", False), ("malformed", True)]


def test_batch_without_fallback_records_failure(settings, wh, endpoints):
    chat, batches = endpoints
    batches.malformed = {"question 0"}
    layer = ModelLayer(batch_settings(settings, chat.base_url, batch_fallback=False), wh, "run-1")
    res = layer.call_many([req(0), req(1)])
    assert res[0].parsed is None and res[0].status == "malformed" and res[1].ok
    assert chat.calls == 0
