"""Moderator over Azure AI Content Safety (azure-ai-contentsafety): text and images, severity thresholds per category.

    mod = AzureModerator(endpoint, key, {"thresholds": {"Hate": 4, "SelfHarm": 4, "Sexual": 4, "Violence": 4}})
    mod.moderate_text(title + description + captions)   # chunked to the API's 10,000-character limit
    mod.moderate_image(jpeg_bytes)                      # one sampled frame (<= 4 MB)

A result is flagged when any category's severity reaches its threshold (severity levels 0, 2, 4, 6). Throttling
(429) and 5xx are retried by azure-core's RetryPolicy, which honours Retry-After. The key is passed only to
AzureKeyCredential and never logged. Config (`[moderation]`): endpoint, thresholds, retries, max_text_chunks.
Key from VIDEOKR_AZURE_CONTENT_SAFETY_KEY, endpoint from VIDEOKR_AZURE_CONTENT_SAFETY_ENDPOINT or config.
"""
from __future__ import annotations

import hashlib
import logging

from azure.core.pipeline.policies import SansIOHTTPPolicy

from jobs.sources.base import ModerationResult

log = logging.getLogger("videokr.azure_safety")

TEXT_LIMIT = 10_000                 # characters per analyze_text request
IMAGE_LIMIT = 4 * 1024 * 1024       # bytes per analyze_image request
CATEGORIES = ("Hate", "SelfHarm", "Sexual", "Violence")
DEFAULT_THRESHOLDS = {c: 4 for c in CATEGORIES}


class _AttemptLog(SansIOHTTPPolicy):
    """An azure-core per-retry policy: one entry per HTTP attempt, with its outcome (charged or not, it was made)."""

    def __init__(self, sink: list):
        self.sink = sink

    def _log(self, request, status: str) -> None:
        method = request.http_request.url.split("?")[0].rsplit("/", 1)[-1]     # text:analyze | image:analyze
        self.sink.append({"method": method, "units": 1, "status": status})

    def on_response(self, request, response) -> None:
        code = response.http_response.status_code
        self._log(request, "ok" if code < 400 else f"http_{code}")

    def on_exception(self, request) -> None:
        self._log(request, "error")


def chunk_text(text: str, limit: int = TEXT_LIMIT) -> list[str]:
    """Split text into pieces of at most `limit` characters, at whitespace where possible."""
    text = (text or "").strip()
    chunks = []
    while len(text) > limit:
        cut = text.rfind(" ", 0, limit + 1)
        cut = cut if cut > limit // 2 else limit
        chunks.append(text[:cut].strip())
        text = text[cut:].strip()
    if text:
        chunks.append(text)
    return chunks


def verdict(severities: dict[str, int], thresholds: dict[str, int]) -> ModerationResult:
    over = {c: s for c, s in severities.items() if s is not None and s >= thresholds.get(c, 99)}
    reason = ", ".join(f"{c} severity {s} >= {thresholds[c]}" for c, s in sorted(over.items()))
    return ModerationResult(bool(over), dict(severities), reason)


class AzureModerator:
    name = "azure"

    def __init__(self, endpoint: str, key: str, config: dict | None = None, **client_kwargs):
        from azure.ai.contentsafety import ContentSafetyClient
        from azure.core.credentials import AzureKeyCredential

        if not endpoint or not key:
            raise ValueError("Azure Content Safety needs an endpoint and a key "
                             "(VIDEOKR_AZURE_CONTENT_SAFETY_ENDPOINT / VIDEOKR_AZURE_CONTENT_SAFETY_KEY)")
        cfg = dict(config or {})
        self.thresholds = DEFAULT_THRESHOLDS | {k: int(v) for k, v in (cfg.get("thresholds") or {}).items()}
        self.max_chunks = int(cfg.get("max_text_chunks", 20))
        client_kwargs.setdefault("retry_total", int(cfg.get("retries", 6)))
        client_kwargs.setdefault("retry_backoff_factor", float(cfg.get("retry_backoff_s", 0.8)))
        # a hung endpoint must not hang the stage: bounded connect and read (azure-core's default read is 300 s)
        client_kwargs.setdefault("connection_timeout", float(cfg.get("connect_timeout_s", 10)))
        client_kwargs.setdefault("read_timeout", float(cfg.get("timeout_s", 30)))
        # every HTTP attempt (retries included) is logged for the `api_usage` ledger; only a fingerprint of the key
        self.attempts: list[dict] = []
        self.key_fingerprint = hashlib.sha256(key.encode()).hexdigest()[:12]
        client_kwargs.setdefault("per_retry_policies", [_AttemptLog(self.attempts)])
        self.client = ContentSafetyClient(endpoint, AzureKeyCredential(key), **client_kwargs)
        self.calls = 0

    def _call(self, fn, options):
        """One analyze call; a reply that arrived (2xx) but could not be read is logged as `malformed`."""
        try:
            return fn(options)
        except Exception:
            if self.attempts and self.attempts[-1]["status"] == "ok":
                self.attempts[-1]["status"] = "malformed"
            raise

    def drain_calls(self) -> list[dict]:
        """The HTTP attempts since the last drain: [{"method", "units", "status"}] (a SearchSource's shape)."""
        calls, self.attempts[:] = list(self.attempts), []
        return calls

    def moderate_text(self, text: str) -> ModerationResult:
        """Worst severity per category over the chunks; stops at the first flagged chunk."""
        from azure.ai.contentsafety.models import AnalyzeTextOptions

        worst: dict[str, int] = {}
        chunks = chunk_text(text)
        if len(chunks) > self.max_chunks:
            log.info("moderation: text has %d chunks; analysing the first %d", len(chunks), self.max_chunks)
        for chunk in chunks[: self.max_chunks]:
            res = self._call(self.client.analyze_text, AnalyzeTextOptions(text=chunk, categories=list(CATEGORIES)))
            self.calls += 1
            for a in res.categories_analysis or []:
                worst[str(a.category)] = max(worst.get(str(a.category), 0), int(a.severity or 0))
            if verdict(worst, self.thresholds).flagged:
                break
        return verdict(worst, self.thresholds)

    def moderate_image(self, jpeg: bytes, context: dict | None = None) -> ModerationResult:
        from azure.ai.contentsafety.models import AnalyzeImageOptions, ImageData

        if len(jpeg) > IMAGE_LIMIT:
            raise ValueError(f"image of {len(jpeg)} bytes is over the 4 MB limit of image:analyze")
        res = self._call(self.client.analyze_image, AnalyzeImageOptions(image=ImageData(content=jpeg)))
        self.calls += 1
        return verdict({str(a.category): int(a.severity or 0) for a in res.categories_analysis or []},
                       self.thresholds)
