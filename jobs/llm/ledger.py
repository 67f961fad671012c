"""The `llm_calls` ledger: rows collected in memory (thread-safe), written through the warehouse on flush.

call_id (see sql/schema/llm_calls.sql) is unique per payment (`<hash>.<nonce>`, `<hash>!<nonce>` for a failure), so
the ledger is appended: a flush never reads or diffs the ledger and costs the same at 10M rows as at 10K. The
request hash (`request_key`) joins the rows that a call produced (`candidates.call_id`, `checks.call_id`). Cache hits
cost nothing and are counted in the run's totals, not written (a rerun over millions of cached calls adds no rows). Once a flush is committed (inside
the stage's chunk transaction when there is one), `on_committed` gets the keys of the paid calls, so their cache
entries are marked ledgered; a hit on an entry that is not is recorded as that paid call (its ledger row was lost
with a crashed chunk), so no spend goes unaccounted.
"""
from __future__ import annotations

import logging
import threading
import uuid
from datetime import datetime, timezone

from jobs.llm.config import LLMConfig

log = logging.getLogger("videokr.llm")


def _now() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


def ledger_id(key: str, status: str) -> str:
    """A fresh id per payment: two payments for one request (no cache, or a retry after a failure) are two rows."""
    return f"{key}{'.' if status == 'ok' else '!'}{uuid.uuid4().hex[:16]}"


class Ledger:
    def __init__(self, cfg: LLMConfig, run_id: str, on_committed=None):
        self.cfg = cfg
        self.run_id = run_id
        self.on_committed = on_committed          # called with the keys of paid calls once their rows committed
        self._rows: dict[str, dict] = {}
        self._lock = threading.Lock()
        self.totals = {"calls": 0, "cache_hits": 0, "errors": 0, "malformed": 0, "tokens_in": 0, "tokens_out": 0,
                       "cost_usd": 0.0}
        self._unpriced: set[str] = set()

    def cost(self, model: str, tokens_in: int, tokens_out: int, via_batch: bool) -> float:
        pin, pout = self.cfg.price(model)
        if not (pin or pout) and model not in self._unpriced and not model.startswith("offline"):
            self._unpriced.add(model)
            log.warning("no price for model %r in [llm.prices]; its cost is recorded as 0", model)
        c = (tokens_in * pin + tokens_out * pout) / 1e6
        return c * self.cfg.batch_discount if via_batch else c

    def record(self, *, key: str, role: str, backend: str, model: str, prompt_version: str, task: str,
               tokens_in: int, tokens_out: int, latency_ms: float, attempts: int, status: str, cache_hit: bool,
               error: str | None, via_batch: bool = False, call_id: str | None = None) -> dict:
        cost = 0.0 if cache_hit else self.cost(model, tokens_in, tokens_out, via_batch)
        row = {"call_id": call_id or ledger_id(key, status), "request_key": key, "role": role,
               "backend": backend, "model": model, "prompt_version": prompt_version, "task": task,
               "via_batch": via_batch, "tokens_in": int(tokens_in), "tokens_out": int(tokens_out),
               "cost_usd": cost, "latency_ms": float(latency_ms), "attempts": int(attempts), "status": status,
               "cache_hit": cache_hit, "error": error, "created_at": _now()}
        with self._lock:
            if not cache_hit:
                self._rows[row["call_id"]] = row
            t = self.totals
            t["calls"] += 1
            t["cache_hits"] += cache_hit
            t["errors"] += status == "error"
            t["malformed"] += status == "malformed"
            if not cache_hit:
                t["tokens_in"] += row["tokens_in"]
                t["tokens_out"] += row["tokens_out"]
                t["cost_usd"] += cost
        return row

    @property
    def pending(self) -> int:
        return len(self._rows)

    def flush(self, wh) -> int:
        """Append pending rows to `llm_calls`. `wh` is a Warehouse or a stage Run."""
        with self._lock:
            rows, self._rows = list(self._rows.values()), {}
        if not rows or wh is None:
            return 0
        paid = [r["request_key"] for r in rows if r["status"] == "ok" and not r["cache_hit"]]
        try:
            if hasattr(wh, "quarantine"):          # a warehouse.Run: counts go into its runs row (and its chunk)
                wh.write("llm_calls", rows, append=True)
            else:
                wh.write("llm_calls", rows, self.run_id, append=True)
        except BaseException:
            with self._lock:                       # keep them for the next flush
                for r in rows:
                    self._rows.setdefault(r["call_id"], r)
            raise
        if self.on_committed is not None and paid:
            done = lambda: self.on_committed(paid)  # noqa: E731
            wh.after_commit(done) if hasattr(wh, "after_commit") else done()
        return len(rows)
