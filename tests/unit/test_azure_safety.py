"""Azure Content Safety moderator: the real ContentSafetyClient + AzureKeyCredential against pytest-httpserver."""
from __future__ import annotations

import base64
import json

import pytest
from werkzeug import Response

from jobs.sources.azure_safety import AzureModerator, chunk_text

KEY = "test-key-123"


def _analysis(**sev):
    cats = {"Hate": 0, "SelfHarm": 0, "Sexual": 0, "Violence": 0} | sev
    return {"blocklistsMatch": [], "categoriesAnalysis": [{"category": c, "severity": s} for c, s in cats.items()]}


def _mod(httpserver, **cfg):
    return AzureModerator(httpserver.url_for("").rstrip("/"), KEY, cfg, retry_backoff_factor=0.01)


def test_text_is_chunked_and_flagged_by_threshold(httpserver):
    seen = []

    def handler(req):
        body = json.loads(req.data)
        seen.append(body)
        assert req.headers["Ocp-Apim-Subscription-Key"] == KEY
        sev = 4 if "violent" in body["text"] else 2
        return Response(json.dumps(_analysis(Violence=sev)), content_type="application/json")

    httpserver.expect_request("/contentsafety/text:analyze", method="POST").respond_with_handler(handler)
    mod = _mod(httpserver)
    text = ("calm words " * 1500) + " violent ending"          # ~16.5K chars: two requests
    res = mod.moderate_text(text)
    assert len(seen) == 2 and all(len(b["text"]) <= 10_000 for b in seen)
    assert res.flagged and res.categories["Violence"] == 4 and "Violence" in res.reason
    assert not _mod(httpserver, thresholds={"Violence": 6}).moderate_text("violent").flagged


def test_image_sends_base64_and_reads_severities(httpserver):
    jpeg = b"\xff\xd8\xff\xe0fakejpeg"

    def handler(req):
        assert base64.b64decode(json.loads(req.data)["image"]["content"]) == jpeg
        return Response(json.dumps({"categoriesAnalysis": [{"category": "Sexual", "severity": 6}]}),
                        content_type="application/json")

    httpserver.expect_request("/contentsafety/image:analyze", method="POST").respond_with_handler(handler)
    res = _mod(httpserver).moderate_image(jpeg)
    assert res.flagged and res.categories == {"Sexual": 6}


def test_429_is_retried(httpserver):
    httpserver.expect_ordered_request("/contentsafety/text:analyze").respond_with_json(
        {"error": {"code": "TooManyRequests", "message": "slow down"}}, status=429, headers={"Retry-After": "0"})
    httpserver.expect_ordered_request("/contentsafety/text:analyze").respond_with_json(_analysis())
    res = _mod(httpserver).moderate_text("a harmless lecture on pendulums")
    assert not res.flagged and res.categories["Hate"] == 0
    assert len(httpserver.log) == 2


def test_persistent_429_raises_after_retries(httpserver):
    from azure.core.exceptions import HttpResponseError

    httpserver.expect_request("/contentsafety/text:analyze").respond_with_json(
        {"error": {"code": "TooManyRequests", "message": "slow down"}}, status=429, headers={"Retry-After": "0"})
    with pytest.raises(HttpResponseError):
        _mod(httpserver, retries=2).moderate_text("x")
    assert len(httpserver.log) == 3


def test_chunk_text_respects_limit_and_keeps_words():
    chunks = chunk_text("word " * 5000, limit=1000)
    assert all(len(c) <= 1000 for c in chunks) and " ".join(chunks).split() == ["word"] * 5000
