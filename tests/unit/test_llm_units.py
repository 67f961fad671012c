"""Unit tests of the model layer's parts, and the offline path with a trivial ChatModel."""
from __future__ import annotations

import base64
import json
from email.utils import format_datetime
from datetime import datetime, timedelta, timezone

import cv2
import numpy as np
import pytest

from jobs.llm import ConfigError, ModelLayer
from jobs.llm.cache import wire_messages
from jobs.media.model_frames import ModelFrames, encode_jpeg, image_parts
from jobs.llm import config as llm_config
from jobs.llm.cache import request_key
from jobs.llm.ratelimit import TokenBucket, estimate_tokens
from jobs.llm.retry import backoff, retry_after
from jobs.llm.structured import extract_json, parse, response_format
from jobs.sources.base import ChatRequest, GeneratedQA, SolverAnswer

# ---------------------------------------------------------------- structured output


def test_parse_strips_fences_and_prose():
    assert parse('```json\n{"think": "t", "answer": "A"}\n```', SolverAnswer)[0].answer == "A"
    assert parse('Sure! Here it is: {"think": "t", "answer": "B"} Hope it helps.', SolverAnswer)[0].answer == "B"
    assert extract_json("```\n{}\n```") == "{}"


def test_parse_reports_invalid_json_and_schema_mismatch_without_raising():
    assert parse('{"think": ', SolverAnswer) == (None, parse('{"think": ', SolverAnswer)[1])
    assert parse('{"think": ', SolverAnswer)[1].startswith("invalid json")
    assert parse('{"think": "t"}', SolverAnswer)[1].startswith("schema mismatch")
    assert parse("", SolverAnswer)[1] == "empty reply"


def test_strict_response_format_closes_every_object():
    rf = response_format(GeneratedQA)["json_schema"]
    item = rf["schema"]["$defs"]["QAItem"]
    assert rf["strict"] is True and rf["name"] == "GeneratedQA"
    assert item["additionalProperties"] is False
    assert set(item["required"]) == set(item["properties"])            # options (optional) is required-nullable
    assert {"type": "null"} in item["properties"]["options"]["anyOf"]


# ---------------------------------------------------------------- retries and rate limits


def test_retry_after_headers():
    assert retry_after({"retry-after-ms": "250"}) == 0.25
    assert retry_after({"retry-after": "3"}) == 3.0
    when = format_datetime(datetime.now(timezone.utc) + timedelta(seconds=30), usegmt=True)
    assert 25 < retry_after({"retry-after": when}) <= 30
    assert retry_after({}) is None and retry_after({"retry-after": "soon"}) is None


def test_backoff_grows_with_jitter_and_cap_and_obeys_hint():
    for attempt in range(8):
        b = backoff(attempt, 1.0, 10.0)
        assert 0.5 * min(10.0, 2 ** attempt) <= b <= min(10.0, 2 ** attempt)
    assert backoff(3, 1.0, 10.0, hint=0.2) == 0.2


def test_token_bucket_waits_for_refill():
    now = [0.0]
    slept = []

    def sleep(s):
        slept.append(s)
        now[0] += s

    b = TokenBucket(60, clock=lambda: now[0], sleep=sleep)    # 1 per second, burst 60
    for _ in range(60):
        assert b.acquire(1) == 0.0
    waited = b.acquire(1)
    assert 0.99 <= waited <= 1.01 and slept
    b.adjust(30)                                                # charged 30 more after the fact
    assert b.acquire(1) >= 30.0


def test_estimate_tokens_counts_text_images_and_max_tokens():
    msgs = [{"role": "user", "content": [{"type": "text", "text": "x" * 400},
                                         {"type": "image_url", "image_url": {"url": "data:"}}]}]
    assert estimate_tokens(msgs, 100, image_tokens=85) == 100 + 4 + 85 + 100


# ---------------------------------------------------------------- cache keys


def test_request_key_is_stable_and_sensitive():
    msgs = [{"role": "user", "content": "q"}]
    k = request_key("m", msgs, SolverAnswer, 0.0, 100, {"video_id": "a"})
    assert k == request_key("m", [{"content": "q", "role": "user"}], SolverAnswer, 0.0, 100, {"video_id": "b"})
    assert k != request_key("m2", msgs, SolverAnswer, 0.0, 100)
    assert k != request_key("m", msgs, GeneratedQA, 0.0, 100)
    assert k != request_key("m", msgs, SolverAnswer, 0.0, 100, {"sample": 1})            # k solver samples
    assert k != request_key("m", msgs, SolverAnswer, 0.0, 100, {"video_id": "b"}, full_context=True)  # offline


# ---------------------------------------------------------------- images


def test_image_parts_are_keyed_by_frame_identity_not_encoder_bytes():
    """A part's cache key is (video sha256, instant, size, format, quality): other JPEG bytes for the same frame
    (an encoder upgrade) keep the key; another instant or size changes it; the endpoint never sees the identity."""
    clip = ModelFrames("v.mp4", "ab" * 32, [0.5, 1.5], np.stack([np.full((180, 320, 3), i * 60, np.uint8)
                                                                for i in range(2)]), 2.0, 4, 2.0)
    parts = image_parts(clip, quality=70)
    assert [p["frame"]["t"] for p in parts] == [0.5, 1.5] and parts[0]["frame"]["size"] == [320, 180]
    img = cv2.imdecode(np.frombuffer(base64.b64decode(parts[1]["image_url"]["url"].split(",", 1)[1]), np.uint8),
                       cv2.IMREAD_COLOR)
    assert img.shape == (180, 320, 3) and abs(int(img.mean()) - 60) <= 2
    msgs = [{"role": "user", "content": [{"type": "text", "text": "q"}, *parts]}]
    k = request_key("m", msgs, GeneratedQA, 0.0, 100)
    other_bytes = [{**p, "image_url": {"url": p["image_url"]["url"][:-8] + "AAAAAAAA"}} for p in parts]
    assert request_key("m", [{"role": "user", "content": [msgs[0]["content"][0], *other_bytes]}],
                       GeneratedQA, 0.0, 100) == k
    shifted = [{**p, "frame": {**p["frame"], "t": p["frame"]["t"] + 0.5}} for p in parts]
    assert request_key("m", [{"role": "user", "content": [msgs[0]["content"][0], *shifted]}],
                       GeneratedQA, 0.0, 100) != k
    assert all("frame" not in p for p in wire_messages(msgs)[0]["content"])
    assert wire_messages(msgs)[0]["content"][1]["image_url"] == parts[0]["image_url"]
    with pytest.raises(ValueError, match="RGB"):
        encode_jpeg(np.zeros((4, 4), np.uint8))


# ---------------------------------------------------------------- config


def test_config_per_role_with_defaults(settings, monkeypatch):
    settings.extra["llm"] = {"concurrency": 8, "roles": {
        "generator": {"backend": "openai", "model": "gpt-x", "base_url": "http://h/v1", "rpm": 100},
        "judge": {"backend": "azure", "model": "dep", "base_url": "https://x.openai.azure.com",
                  "api_version": "2024-10-21"}}}
    cfg = llm_config.load(settings)
    assert cfg.role("generator").model == "gpt-x" and cfg.role("generator").concurrency == 8
    assert cfg.role("solver").backend == "offline"                        # default backend
    assert cfg.role("judge").api_key_env == "AZURE_OPENAI_API_KEY"
    assert cfg.role("some_new_role").backend == "offline"
    with pytest.raises(ConfigError, match="OPENAI_API_KEY"):             # names the variable, fails fast
        monkeypatch.delenv("OPENAI_API_KEY", raising=False)
        ModelLayer(settings, None, "r", offline_model=Echo())
    settings.extra["llm"] = {"roles": {"solver": {"backend": "openai", "modle": "typo"}}}
    with pytest.raises(ConfigError, match="modle"):
        llm_config.load(settings)


# ---------------------------------------------------------------- offline path (any ChatModel)


class Echo:
    """A trivial ChatModel: answers with the video id it was asked about; 'bad' videos get garbage."""
    name = "echo-v1"

    def __init__(self):
        self.calls = 0

    def complete(self, request: ChatRequest) -> str:
        self.calls += 1
        vid = request.context["video_id"]
        if vid == "bad":
            return "I cannot answer that"
        if vid == "boom":
            raise KeyError(vid)
        return json.dumps({"think": f"saw {vid}", "answer": vid})


def solve(vid: str) -> ChatRequest:
    return ChatRequest(role="solver", task="solve", schema=SolverAnswer, prompt_version="p1",
                       messages=[{"role": "user", "content": "what?"}], context={"video_id": vid, "n_frames": 8})


def test_offline_model_path_and_ledger(settings, wh):
    model = Echo()
    layer = ModelLayer(settings, wh, "run-1", offline_model=model)
    res = layer.call_many([solve("v1"), solve("v2"), solve("bad"), solve("boom")])
    assert [r.parsed.answer if r.ok else None for r in res] == ["v1", "v2", None, None]
    assert res[2].status == "malformed" and res[3].status == "error" and "KeyError" in res[3].error
    assert model.calls == 2 + 3 + 1                         # malformed retried twice; an exception is not retried
    assert res[0].call_id != res[1].call_id                 # offline keys include the context
    layer.flush()
    rows = wh.query("SELECT * FROM llm_calls ORDER BY call_id").to_dicts()
    assert len(rows) == 4 and {r["model"] for r in rows} == {"echo-v1-solver"}   # the stand-in, named per role
    assert all(r["cost_usd"] == 0 and r["backend"] == "offline" for r in rows)
    assert sorted(r["status"] for r in rows) == ["error", "malformed", "ok", "ok"]


def test_offline_cache_is_opt_in(settings, wh):
    model = Echo()
    ModelLayer(settings, wh, "r1", offline_model=model).call(solve("v1"))
    ModelLayer(settings, wh, "r2", offline_model=model).call(solve("v1"))
    assert model.calls == 2                                 # not cached by default (the stand-in is free)
    settings.extra["llm"] = {"cache_offline": True}
    ModelLayer(settings, wh, "r3", offline_model=model).call(solve("v1"))
    res = ModelLayer(settings, wh, "r4", offline_model=model).call(solve("v1"))
    assert model.calls == 3 and res.cached


def test_layer_in_a_stage_run_writes_ledger_on_exit(settings, wh):
    from warehouse import stage_run
    with stage_run(wh, "verify") as run, ModelLayer(settings, run, run.run_id, offline_model=Echo()) as layer:
        layer.call(solve("v1"))
        assert wh.query("SELECT count(*) AS n FROM llm_calls")["n"][0] == 0      # not yet
    rows = wh.query("SELECT * FROM llm_calls").to_dicts()
    assert len(rows) == 1 and rows[0]["run_id"] == run.run_id
    (runs_row,) = wh.query("SELECT rows_written FROM runs WHERE run_id = ? AND status = 'success'",
                           [run.run_id]).to_dicts()
    assert json.loads(runs_row["rows_written"]) == {"llm_calls": 1}


def _fill(path, start, n):
    from jobs.llm.cache import Entry, ReplyCache
    c = ReplyCache(path)
    for i in range(start, start + n):
        c.put(f"k{i}", Entry(f"raw{i}", i, 1, "m"))


def test_cache_file_is_shared_safely_by_processes(tmp_path):
    import multiprocessing as mp
    from jobs.llm.cache import ReplyCache
    path = tmp_path / "llm_cache" / "replies.sqlite"
    ReplyCache(path)
    procs = [mp.get_context("spawn").Process(target=_fill, args=(path, j * 300, 300)) for j in range(3)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
    assert [p.exitcode for p in procs] == [0, 0, 0]
    got = ReplyCache(path).get_many([f"k{i}" for i in range(900)])
    assert len(got) == 900 and got["k899"].raw == "raw899" and got["k5"].tokens_in == 5
