"""Which transport errors to retry, and how long to wait: server hints first, else exponential backoff.

Hints honoured: `retry-after-ms` (milliseconds, OpenAI/Azure) and `Retry-After` (seconds or an HTTP date).
Backoff without a hint: full jitter, uniform(0.5, 1.0) * min(cap, base * 2**attempt).
"""
from __future__ import annotations

import email.utils
import random
import time

import openai

RETRYABLE_STATUS = {408, 409, 425, 429, 500, 502, 503, 504, 520, 522, 524, 529}


def retry_after(headers) -> float | None:
    """Seconds the server asked us to wait, or None."""
    if headers is None:
        return None
    ms = headers.get("retry-after-ms")
    if ms:
        try:
            return max(0.0, float(ms) / 1000.0)
        except ValueError:
            pass
    ra = headers.get("retry-after")
    if ra:
        try:
            return max(0.0, float(ra))
        except ValueError:
            try:
                when = email.utils.parsedate_to_datetime(ra)
                return max(0.0, when.timestamp() - time.time())
            except (TypeError, ValueError):
                return None
    return None


def classify(exc: BaseException) -> tuple[bool, float | None, str]:
    """(retryable, server wait hint in s, short error text) for an exception from the openai client."""
    if isinstance(exc, openai.APITimeoutError):
        return True, None, "timeout"
    if isinstance(exc, openai.APIConnectionError):
        return True, None, f"connection: {exc}"[:300]
    if isinstance(exc, openai.APIStatusError):
        hint = retry_after(exc.response.headers)
        code = exc.status_code
        return code in RETRYABLE_STATUS or code >= 500, hint, f"http {code}: {exc.message}"[:500]
    return False, None, f"{type(exc).__name__}: {exc}"[:500]


def backoff(attempt: int, base: float, cap: float, hint: float | None = None) -> float:
    """Seconds to sleep before retry number `attempt` (0-based). A server hint wins (capped at 10 minutes)."""
    if hint is not None:
        return min(hint, 600.0)
    return random.uniform(0.5, 1.0) * min(cap, base * (2 ** attempt))
