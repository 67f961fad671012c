"""The Batch API path for bulk steps.

JSONL (one line per request, custom_id = the request's cache key) -> files.create(purpose="batch") ->
batches.create(endpoint="/v1/chat/completions", completion_window="24h") -> poll batches.retrieve until a terminal
status -> files.content(output_file_id) (and error_file_id) -> results mapped back by custom_id.

The batch id is remembered in the reply cache under a job key (hash of the custom_ids), so a rerun after a crash
resumes the same batch instead of paying for it again.
"""
from __future__ import annotations

import hashlib
import json
import logging
import time
from dataclasses import dataclass

from jobs.llm.retry import backoff, classify

log = logging.getLogger("videokr.llm.batch")

TERMINAL = {"completed", "failed", "expired", "cancelled"}
MAX_FILE_BYTES = 190 * 1024 * 1024      # the API's limit is 200 MB per input file


@dataclass
class BatchItem:
    text: str | None
    tokens_in: int = 0
    tokens_out: int = 0
    error: str | None = None


def chunks(lines: list[tuple[str, dict]], max_requests: int) -> list[list[tuple[str, dict]]]:
    out, cur, size = [], [], 0
    for cid, body in lines:
        n = len(json.dumps(body)) + 100
        if cur and (len(cur) >= max_requests or size + n > MAX_FILE_BYTES):
            out.append(cur)
            cur, size = [], 0
        cur.append((cid, body))
        size += n
    if cur:
        out.append(cur)
    return out


def job_key(model: str, custom_ids: list[str]) -> str:
    return hashlib.sha256((model + "\n" + "\n".join(sorted(custom_ids))).encode()).hexdigest()


def _with_retries(fn, what: str, tries: int = 5, base: float = 1.0):
    for attempt in range(tries):
        try:
            return fn()
        except Exception as exc:  # noqa: BLE001 - classified below
            retryable, hint, err = classify(exc)
            if not retryable or attempt == tries - 1:
                raise RuntimeError(f"batch {what}: {err}") from exc
            time.sleep(backoff(attempt, base, 60.0, hint))


def submit(client, lines: list[tuple[str, dict]], store, model: str) -> tuple[str, str]:
    """Upload the JSONL and create the batch (or find the one already running for these requests).
    Returns (batch id, job key)."""
    jk = job_key(model, [cid for cid, _ in lines])
    known = store.batch_id(jk)
    if known:
        b = _with_retries(lambda: client.batches.retrieve(known), "retrieve")
        if b.status not in ("failed", "expired", "cancelled"):
            log.info("resuming batch %s (%s) for %d requests", known, b.status, len(lines))
            return known, jk
    data = "".join(json.dumps({"custom_id": cid, "method": "POST", "url": "/v1/chat/completions", "body": body},
                              separators=(",", ":")) + "\n" for cid, body in lines).encode()
    f = _with_retries(lambda: client.files.create(file=("videokr-batch.jsonl", data, "application/jsonl"),
                                                  purpose="batch"), "upload")
    b = _with_retries(lambda: client.batches.create(input_file_id=f.id, endpoint="/v1/chat/completions",
                                                    completion_window="24h",
                                                    metadata={"videokr_job": jk[:32]}), "create")
    store.set_batch(jk, b.id)
    log.info("submitted batch %s: %d requests, %.1f MB", b.id, len(lines), len(data) / 1e6)
    return b.id, jk


def _parse_line(obj: dict) -> BatchItem:
    resp = obj.get("response") or {}
    if obj.get("error") or resp.get("status_code", 200) != 200:
        err = obj.get("error") or (resp.get("body") or {}).get("error") or {}
        msg = err.get("message") if isinstance(err, dict) else str(err)
        return BatchItem(None, error=f"batch item http {resp.get('status_code')}: {msg}"[:500])
    body = resp.get("body") or {}
    usage = body.get("usage") or {}
    choices = body.get("choices") or [{}]
    text = (choices[0].get("message") or {}).get("content")
    return BatchItem(text, usage.get("prompt_tokens", 0) or 0, usage.get("completion_tokens", 0) or 0)


def collect(client, batch_id: str, poll_s: float, timeout_s: float) -> tuple[str, dict[str, BatchItem]]:
    """Poll until the batch ends; returns (final status, results by custom_id). Missing ids simply lack a result."""
    t0 = time.monotonic()
    while True:
        b = _with_retries(lambda: client.batches.retrieve(batch_id), "retrieve")
        if b.status in TERMINAL:
            break
        if time.monotonic() - t0 > timeout_s:
            return "timeout", {}
        counts = getattr(b, "request_counts", None)
        log.info("batch %s: %s %s", batch_id, b.status, counts.model_dump() if counts is not None else "")
        time.sleep(poll_s)
    out: dict[str, BatchItem] = {}
    for fid in (b.error_file_id, b.output_file_id):       # output last: it wins for the same id
        if not fid:
            continue
        text = _with_retries(lambda: client.files.content(fid).text, "download")
        for line in text.splitlines():
            if line.strip():
                obj = json.loads(line)
                out[obj["custom_id"]] = _parse_line(obj)
    log.info("batch %s %s: %d results", batch_id, b.status, len(out))
    return b.status, out
