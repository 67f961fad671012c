"""Per-endpoint rate limits: token buckets for requests/min and tokens/min.

A bucket holds up to one minute's allowance and refills continuously. `acquire` blocks until the allowance
is there; `adjust` settles the difference once the real token usage is known (the level may go negative,
which delays later requests: the endpoint's own accounting works the same way).
"""
from __future__ import annotations

import threading
import time


class TokenBucket:
    def __init__(self, per_minute: float, clock=time.monotonic, sleep=time.sleep):
        self.capacity = float(per_minute)
        self.rate = self.capacity / 60.0
        self.level = self.capacity
        self._clock, self._sleep = clock, sleep
        self._t = clock()
        self._lock = threading.Lock()

    def _refill(self) -> None:
        now = self._clock()
        self.level = min(self.capacity, self.level + (now - self._t) * self.rate)
        self._t = now

    def acquire(self, amount: float = 1.0) -> float:
        """Take `amount` (clamped to one minute's allowance); returns the seconds waited."""
        if self.capacity <= 0:
            return 0.0
        amount = min(float(amount), self.capacity)
        waited = 0.0
        while True:
            with self._lock:
                self._refill()
                if self.level >= amount:
                    self.level -= amount
                    return waited
                wait = (amount - self.level) / self.rate
            wait = min(max(wait, 0.001), 5.0)
            self._sleep(wait)
            waited += wait

    def adjust(self, delta: float) -> None:
        """Charge `delta` more (or refund, if negative) after the fact."""
        if self.capacity <= 0:
            return
        with self._lock:
            self._refill()
            self.level = min(self.capacity, self.level - delta)


class RateLimiter:
    """Requests/min and tokens/min for one endpoint (0 = unlimited)."""

    def __init__(self, rpm: int = 0, tpm: int = 0):
        self.requests = TokenBucket(rpm)
        self.tokens = TokenBucket(tpm)

    def acquire(self, est_tokens: int) -> float:
        return self.requests.acquire(1) + self.tokens.acquire(est_tokens)

    def settle(self, est_tokens: int, actual_tokens: int) -> None:
        self.tokens.adjust(actual_tokens - est_tokens)


def estimate_tokens(messages: list[dict], max_tokens: int, image_tokens: int = 255) -> int:
    """A cheap upper-ish estimate: ~4 characters per token of text, a flat cost per image, plus max_tokens
    (OpenAI counts max_tokens against the TPM limit when the request arrives)."""
    chars, images = 0, 0
    for m in messages:
        content = m.get("content")
        if isinstance(content, str):
            chars += len(content)
        elif isinstance(content, list):
            for part in content:
                if part.get("type") == "text":
                    chars += len(part.get("text", ""))
                elif part.get("type") in ("image_url", "input_image"):
                    images += 1
    return chars // 4 + 4 * len(messages) + images * image_tokens + max_tokens
