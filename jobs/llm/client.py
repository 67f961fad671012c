"""Backends behind the layer: an OpenAI-compatible endpoint (OpenAI, Azure OpenAI, vLLM, Gemini's OpenAI
endpoint) and the offline stand-in (any `ChatModel`).

Each backend owns the per-endpoint controls: a concurrency semaphore and the rate limiter. The openai client's
own retries are off (max_retries=0); the layer retries (see retry.py).
"""
from __future__ import annotations

import threading
from dataclasses import dataclass

from jobs.llm.cache import request_key, wire_messages
from jobs.llm.config import RoleConfig
from jobs.llm.ratelimit import RateLimiter, estimate_tokens
from jobs.llm.structured import response_format
from jobs.sources.base import ChatModel, ChatRequest


@dataclass
class Reply:
    text: str | None
    tokens_in: int
    tokens_out: int
    finish_reason: str | None = None


class OpenAIBackend:
    kind = "openai"

    def __init__(self, rc: RoleConfig):
        import openai
        self.rc = rc
        self.kind = rc.backend
        self.model = rc.model
        key = rc.api_key()
        common = dict(api_key=key, max_retries=0, timeout=rc.timeout_s)
        if rc.backend == "azure":
            self.client = openai.AzureOpenAI(azure_endpoint=rc.base_url, api_version=rc.api_version or None, **common)
        else:
            self.client = openai.OpenAI(base_url=rc.base_url or None, **common)
        self.sem = threading.BoundedSemaphore(max(1, rc.concurrency))
        self.limiter = RateLimiter(rc.rpm, rc.tpm)

    def key(self, req: ChatRequest) -> str:
        return request_key(self.model, req.messages, req.schema, req.temperature, req.max_tokens,
                           req.context, self.rc.extra_body)

    def body(self, req: ChatRequest) -> dict:
        """The /v1/chat/completions request body (also one Batch API line's body)."""
        body = {"model": self.model, "messages": wire_messages(req.messages), "temperature": req.temperature,
                self.rc.max_tokens_param: req.max_tokens}
        if self.rc.json_schema:
            body["response_format"] = response_format(req.schema)
        if "seed" in req.context:
            body["seed"] = int(req.context["seed"])
        body.update(self.rc.extra_body)
        return body

    def complete(self, req: ChatRequest) -> Reply:
        body = self.body(req)
        est = estimate_tokens(req.messages, req.max_tokens, self.rc.image_tokens)
        self.limiter.acquire(est)
        with self.sem:
            resp = self.client.chat.completions.create(**{k: body[k] for k in ("model", "messages")},
                                                       extra_body={k: v for k, v in body.items()
                                                                   if k not in ("model", "messages")})
        usage = resp.usage
        tin, tout = (usage.prompt_tokens or 0, usage.completion_tokens or 0) if usage else (0, 0)
        self.limiter.settle(est, tin + tout)
        choice = resp.choices[0] if resp.choices else None
        text = choice.message.content if choice and choice.message else None
        return Reply(text, tin, tout, choice.finish_reason if choice else None)

    def close(self) -> None:
        self.client.close()


class OfflineBackend:
    """Wraps any ChatModel. Token counts are estimates (chars/4); the offline model costs nothing."""
    kind = "offline"

    def __init__(self, model: ChatModel, rc: RoleConfig):
        self.chat_model = model
        self.rc = rc
        self.model = rc.model_name(getattr(model, "name", type(model).__name__))

    def key(self, req: ChatRequest) -> str:
        return request_key(f"offline:{self.model}", req.messages, req.schema, req.temperature, req.max_tokens,
                           req.context, full_context=True)

    def complete(self, req: ChatRequest) -> Reply:
        text = self.chat_model.complete(req)
        return Reply(text, estimate_tokens(req.messages, 0, self.rc.image_tokens), len(text or "") // 4, "stop")

    def close(self) -> None:
        pass
