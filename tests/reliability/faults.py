"""Seeded fault injection at the far end of an HTTP API (a pytest-httpserver handler wraps the good reply).

    faults = Faults(seed=7, rate=0.3, hang_s=2.0)
    server.expect_request(...).respond_with_handler(faults.wrap(good_reply))   # good_reply: body-dict -> Response

Each request draws, from one seeded generator, whether it fails (`rate`) and how: 429 with Retry-After, 5xx,
a hang past the client's timeout, a truncated body (Content-Length promises more than is sent, then the
connection closes), a malformed error body, or a 200 whose body is not the API's JSON. The same seed gives the
same sequence of decisions, so a failing run can be replayed. `log` keeps (kind, body) per request.
"""
from __future__ import annotations

import hashlib
import json
import random
import threading
import time
from collections import Counter
from typing import Callable

from werkzeug import Request, Response

KINDS = ("429", "5xx", "hang", "truncated", "malformed", "malformed_200")


def body_hash(raw: bytes) -> str:
    try:
        doc = json.dumps(json.loads(raw), sort_keys=True)
    except ValueError:
        doc = raw.decode("utf-8", "replace")
    return hashlib.sha256(doc.encode()).hexdigest()


class Faults:
    def __init__(self, seed: int, rate: float = 0.3, hang_s: float = 2.0, retry_after: str = "1",
                 kinds: tuple[str, ...] = KINDS):
        self.rng = random.Random(seed)
        self.rate, self.hang_s, self.retry_after, self.kinds = rate, hang_s, retry_after, kinds
        self.lock = threading.Lock()
        self.log: list[tuple[str, str]] = []          # (kind or "ok", hash of the request body + path)
        self.on = True

    def draw(self) -> tuple[str, int]:
        """(kind, variant): one seeded decision per request, in arrival order."""
        with self.lock:
            fail, kind, variant = self.rng.random(), self.rng.choice(self.kinds), self.rng.randrange(3)
            return (kind if self.on and fail < self.rate else "ok"), variant

    def counts(self) -> Counter:
        return Counter(k for k, _ in self.log)

    def ok_requests(self) -> set[str]:
        return {h for k, h in self.log if k == "ok"}

    def wrap(self, good: Callable[[Request], Response]) -> Callable[[Request], Response]:
        def handler(request: Request) -> Response:
            kind, variant = self.draw()
            key = body_hash(request.path.encode() + b"?" + request.query_string + request.get_data())
            with self.lock:
                self.log.append((kind, key))
            return self.respond(kind, variant, request, good)
        return handler

    def respond(self, kind: str, variant: int, request: Request, good: Callable[[Request], Response]) -> Response:
        err = lambda code, msg: json.dumps({"error": {"code": code, "message": msg, "status": msg}})  # noqa: E731
        if kind == "ok":
            return good(request)
        if kind == "429":
            return Response(err(429, "rate limited"), 429, content_type="application/json",
                            headers={"Retry-After": self.retry_after})
        if kind == "5xx":
            code = (500, 502, 503)[variant]
            return Response(err(code, "backend error"), code, content_type="application/json")
        if kind == "hang":
            time.sleep(self.hang_s)                   # the client gave up long ago
            return Response(err(504, "too late"), 504, content_type="application/json")
        if kind == "truncated":
            full = good(request).get_data()
            return Response(iter([full[: max(1, len(full) // 2)]]), 200, direct_passthrough=True,
                            content_type="application/json",
                            headers={"Content-Length": str(len(full)), "Connection": "close"})
        if kind == "malformed":
            return Response("<html><body>502 Bad Gateway from an upstream proxy", 502, content_type="text/html")
        if kind == "malformed_200":
            body = ("{\"choices\": [", "<html>upstream hiccup</html>", json.dumps(["not", "an", "object"]))[variant]
            return Response(body, 200, content_type="application/json")
        raise ValueError(f"unknown fault kind {kind!r}")
