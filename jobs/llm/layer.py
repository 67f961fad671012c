"""ModelLayer: the one way every stage calls a model.

    layer = ModelLayer(settings, wh, run_id)          # or: with ModelLayer(...) as layer: ... (flushes on exit)
    res = layer.call(req)                             # CallResult; never raises for endpoint or reply trouble
    results = layer.call_many(reqs)                   # same order; bounded concurrency or the Batch API
    layer.flush()                                     # writes the llm_calls ledger rows

In a stage, pass the stage Run as `wh` and use the layer as a context manager, so the ledger is written (and counted
in the `runs` row) when the block ends, also when it ends by an exception:

    with stage_run(wh, "verify", scope) as run, ModelLayer(settings, run, run.run_id) as layer: ...

Several samples of one request (k solver samples, n blind tries) must differ in `context["sample"]` (or
"sample_index" / "seed" / "try"): those context fields enter the cache key; otherwise identical requests are one call.

Per call: cache lookup (content hash) -> rate limit + concurrency slot -> HTTP -> parse/validate -> cache store ->
ledger row. Transport errors (429, 5xx, timeouts) are retried with backoff honouring Retry-After; a malformed reply
is retried `malformed_retries` times; then the call is recorded as failed (CallResult.error set, parsed None).
"""
from __future__ import annotations

import logging
import threading
import time
import weakref
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel

from jobs.llm import batch as batch_api
from jobs.llm import config as llm_config
from jobs.llm.cache import Entry, ReplyCache
from jobs.llm.client import OfflineBackend, OpenAIBackend
from jobs.llm.ledger import Ledger
from jobs.llm.retry import backoff, classify
from jobs.llm.structured import parse
from jobs.sources.base import ChatModel, ChatRequest

log = logging.getLogger("videokr.llm")
PROGRESS_EVERY_S = 30.0


@dataclass
class CallResult:
    parsed: BaseModel | None
    raw: str
    call_id: str                 # the request's content hash: stable across reruns, joins llm_calls.request_key
    model: str
    cached: bool
    error: str | None = None
    status: str = "ok"           # ok | error | malformed
    tokens_in: int = 0
    tokens_out: int = 0
    latency_ms: float = 0.0
    attempts: int = 0
    via_batch: bool = False

    @property
    def ok(self) -> bool:
        return self.parsed is not None


def _ledgered_callback(layer: "ModelLayer"):
    """Marks committed paid calls in the layer's cache; holds the layer weakly (no layer <-> ledger cycle, so a
    layer and its cache connection are freed as soon as a stage drops it)."""
    ref = weakref.ref(layer)

    def mark(keys: list[str]) -> None:
        live = ref()
        if live is not None:
            live._ledgered(keys)
    return mark


class ModelLayer:
    def __init__(self, settings=None, wh=None, run_id: str = "adhoc", offline_model: ChatModel | None = None,
                 steps: dict[str, dict] | None = None):
        """`steps`: reviewed step -> endpoint (model, backend, base_url, ...) serving that step's roles, for a
        review pilot; otherwise a step's human-approved selection (model_selection) serves its roles."""
        self.settings = settings
        self.wh = wh
        self.run_id = run_id
        self.cfg = llm_config.load(settings)
        self.unapproved: set[str] = set()       # reviewed steps without an approved model (gated when required)
        self.require_approved = False
        self._review(steps or {})
        self.ledger = Ledger(self.cfg, run_id, on_committed=_ledgered_callback(self))
        self._offline_model = offline_model
        self._backends: dict[tuple, object] = {}
        self._lock = threading.Lock()
        self._pool: ThreadPoolExecutor | None = None
        self._cache: ReplyCache | None = None
        for rc in self.cfg.roles.values():          # fail fast on a missing key, before any work
            if rc.backend != "offline":
                rc.api_key()

    # ------------------------------------------------------------------ reviewed models
    def _review(self, pilot: dict[str, dict]) -> None:
        """Serve each reviewed step by its approved model (or the pilot's); refuse, before any work, a stage that
        needs a step without one when `[review] require_approved_models` holds (jobs/review/gate.py)."""
        from jobs.review.gate import review_models
        rv = review_models(self.settings, self.wh, pilot)
        if rv.endpoints:
            self.cfg = llm_config.with_steps(self.cfg, rv.endpoints)
        self.require_approved, self.unapproved = rv.require, rv.unapproved
        for rc in self.cfg.task_roles.values():
            if rc.backend != "offline":
                rc.api_key()

    def _gate(self, role: str, task: str | None) -> None:
        """Per call: a stage's call of a reviewed step needs that step's approval when required."""
        stage = getattr(self.wh, "stage", None)
        if self.require_approved and stage is not None and task in llm_config.TASK_STEPS:
            step = llm_config.step_of(role, task)
            if step in self.unapproved:
                from jobs.review.gate import refusal
                raise llm_config.ConfigError(refusal(step, stage))

    # ------------------------------------------------------------------ plumbing
    @property
    def cache(self) -> ReplyCache | None:
        if not self.cfg.cache:
            return None
        if self._cache is None:
            with self._lock:
                if self._cache is None:
                    home = Path(getattr(self.settings, "home", None) or ".videokr")
                    path = Path(self.cfg.cache_dir) if self.cfg.cache_dir else home / "llm_cache"
                    self._cache = ReplyCache(path / "replies.sqlite")
        return self._cache

    def _ledgered(self, keys: list[str]) -> None:
        if self.cache is not None:
            self.cache.mark_ledgered(keys)

    def _offline(self) -> ChatModel:
        if self._offline_model is None:
            from jobs.sources.offline_model import OfflineModel
            from jobs.sources.sample.library import load_library
            self._offline_model = OfflineModel(load_library(self.settings))
        return self._offline_model

    def backend(self, role: str, task: str | None = None):
        """The backend serving `role` (for `task`: a reviewed step may route one task of a shared role)."""
        self._gate(role, task)
        rc = self.cfg.role_for(role, task)
        be = self._backends.get(rc.endpoint_id)
        if be is None:
            with self._lock:
                be = self._backends.get(rc.endpoint_id)
                if be is None:
                    be = OfflineBackend(self._offline_for(rc), rc) if rc.backend == "offline" else OpenAIBackend(rc)
                    self._backends[rc.endpoint_id] = be
        return be

    def _offline_for(self, rc) -> ChatModel:
        """The stand-in, or for a model of the embedded candidate pool the stand-in with its known error rate."""
        from jobs.sources.offline_pool import wrap
        return (wrap(rc.model, self._offline()) if rc.model else None) or self._offline()

    def _cache_for(self, be) -> ReplyCache | None:
        return None if (be.kind == "offline" and not self.cfg.cache_offline) else self.cache

    def check_independence(self, run, writers: dict[str, str] | None = None) -> list[str]:
        """Enforce that the generator, the solvers and the CoT validator are different models (and that no solver
        or validator judges items it generated: `writers`), before any work. With `allow_same_model` the problems
        are logged loudly and recorded in the run's params (its `runs` row)."""
        problems = llm_config.check_independence(self.cfg, tuple(r for pair in llm_config.INDEPENDENT for r in pair),
                                                 writers)
        if problems:
            log.warning("INDEPENDENCE NOT ENFORCED (allow_same_model = true): %s", "; ".join(problems))
            run.params["independence_warnings"] = problems
        return problems

    def frame_budget(self, count: int | None = None):
        """The frame and pixel budget of chat requests ([llm.frames] count and max_side; `count` overrides)."""
        from jobs.media.model_frames import Budget
        f = self.cfg.frames
        return Budget(frames=int(count or f["count"]), max_side=int(f["max_side"]))

    def image_parts(self, mf) -> list[dict]:
        """Image parts of decoded model frames (jobs.media.model_frames) at the configured JPEG quality."""
        from jobs.media.model_frames import image_parts
        return image_parts(mf, quality=int(self.cfg.frames["quality"]))

    # ------------------------------------------------------------------ one call
    def _hit(self, req: ChatRequest, be, key: str, entry: Entry) -> CallResult | None:
        parsed, err = parse(entry.raw, req.schema)
        if parsed is None:
            return None                              # never cached invalid replies; treat as a miss
        # a reply whose paid call never reached the ledger (its chunk died with the process) is recorded as paid now
        self.ledger.record(key=key, role=req.role, backend=be.kind, model=be.model, prompt_version=req.prompt_version,
                           task=req.task, tokens_in=entry.tokens_in, tokens_out=entry.tokens_out, latency_ms=0.0,
                           attempts=0, status="ok", cache_hit=bool(entry.ledgered), error=None)
        return CallResult(parsed, entry.raw, key, be.model, True, None, "ok", entry.tokens_in, entry.tokens_out)

    def call(self, req: ChatRequest) -> CallResult:
        return self._call(req, self.backend(req.role, req.task).key(req))

    def _call(self, req: ChatRequest, key: str) -> CallResult:
        be = self.backend(req.role, req.task)
        cache = self._cache_for(be)
        if cache is not None:
            entry = cache.get(key)
            if entry is not None:
                hit = self._hit(req, be, key, entry)
                if hit is not None:
                    return hit
        return self._execute(req, be, key, cache)

    def _execute(self, req: ChatRequest, be, key: str, cache) -> CallResult:
        rc = be.rc
        t0 = time.monotonic()
        attempts = transport_tries = malformed = tin = tout = 0
        raw, parsed, error, status = "", None, None, "error"
        while True:
            attempts += 1
            try:
                reply = be.complete(req)
            except Exception as exc:  # noqa: BLE001 - every failure becomes a recorded result
                retryable, hint, error = classify(exc)
                if retryable and transport_tries < rc.max_retries:
                    wait = backoff(transport_tries, rc.backoff_base_s, rc.backoff_max_s, hint)
                    log.info("%s/%s %s: %s; retry %d in %.2fs", req.role, req.task, key[:12], error,
                             transport_tries + 1, wait)
                    transport_tries += 1
                    time.sleep(wait)
                    continue
                status = "error"
                break
            tin += reply.tokens_in
            tout += reply.tokens_out
            raw = reply.text or ""
            parsed, perr = parse(raw, req.schema)
            if parsed is not None:
                status, error = "ok", None
                if cache is not None:
                    cache.put(key, Entry(raw, reply.tokens_in, reply.tokens_out, be.model))
                break
            error = f"malformed reply: {perr}" + (" (finish_reason=length)" if reply.finish_reason == "length" else "")
            if malformed < rc.malformed_retries:
                malformed += 1
                log.info("%s/%s %s: %s; asking again (%d)", req.role, req.task, key[:12], error, malformed)
                continue
            status = "malformed"
            break
        latency = (time.monotonic() - t0) * 1000
        if status != "ok":
            log.warning("%s/%s %s failed after %d attempt(s): %s", req.role, req.task, key[:12], attempts, error)
        self.ledger.record(key=key, role=req.role, backend=be.kind, model=be.model, prompt_version=req.prompt_version,
                           task=req.task, tokens_in=tin, tokens_out=tout, latency_ms=latency, attempts=attempts,
                           status=status, cache_hit=False, error=error)
        return CallResult(parsed, raw, key, be.model, False, error, status, tin, tout, latency, attempts)

    # ------------------------------------------------------------------ many calls
    def _executor(self) -> ThreadPoolExecutor:
        if self._pool is None:
            with self._lock:
                if self._pool is None:
                    n = max([rc.concurrency for rc in self.cfg.roles.values() if rc.backend != "offline"] or [1])
                    self._pool = ThreadPoolExecutor(max_workers=max(1, n), thread_name_prefix="llm")
        return self._pool

    def call_many(self, reqs: list[ChatRequest]) -> list[CallResult]:
        """Results in the order of `reqs`. Identical requests are sent once. Tasks listed in [llm] batch_tasks
        go through the Batch API (network backends only)."""
        t0 = time.monotonic()
        results: list[CallResult | None] = [None] * len(reqs)
        by_key: dict[str, list[int]] = {}
        first: dict[str, ChatRequest] = {}
        for i, r in enumerate(reqs):
            k = self.backend(r.role, r.task).key(r)
            by_key.setdefault(k, []).append(i)
            first.setdefault(k, r)
        batched = {k: r for k, r in first.items()
                   if r.task in self.cfg.batch_tasks and self.backend(r.role, r.task).kind != "offline"}
        direct = [(k, r) for k, r in first.items() if k not in batched]
        done: dict[str, CallResult] = {}
        if batched:
            done.update(self._batch(batched))
        offline = [(k, r) for k, r in direct if self.backend(r.role, r.task).kind == "offline"]
        network = [(k, r) for k, r in direct if self.backend(r.role, r.task).kind != "offline"]
        for k, r in offline:                          # CPU-bound stand-in: threads would not help
            done[k] = self._call(r, k)
        if network:
            futs = {self._executor().submit(self._call, r, k): k for k, r in network}
            last = time.monotonic()
            for n, f in enumerate(as_completed(futs), 1):
                done[futs[f]] = f.result()
                if time.monotonic() - last >= PROGRESS_EVERY_S:
                    last = time.monotonic()
                    log.info("call_many: %d/%d done (%.1f/s)", n, len(futs), n / (last - t0))
        for k, idx in by_key.items():
            for i in idx:
                results[i] = done[k]
        dt = time.monotonic() - t0
        t = self.ledger.totals
        log.info("call_many: %d requests (%d distinct) in %.1fs (%.1f/s); run totals: %d calls, %d cache hits, "
                 "%d errors, %d malformed, $%.4f", len(reqs), len(first), dt, len(reqs) / dt if dt else 0.0,
                 t["calls"], t["cache_hits"], t["errors"], t["malformed"], t["cost_usd"])
        if self.ledger.pending >= self.cfg.flush_every:
            self.flush()
        return results  # type: ignore[return-value]

    def _batch(self, reqs: dict[str, ChatRequest]) -> dict[str, CallResult]:
        done: dict[str, CallResult] = {}
        groups: dict[tuple, list[tuple[str, ChatRequest]]] = {}
        for k, r in reqs.items():
            be = self.backend(r.role, r.task)
            cache = self._cache_for(be)
            entry = cache.get(k) if cache is not None else None
            hit = self._hit(r, be, k, entry) if entry is not None else None
            if hit is not None:
                done[k] = hit
            else:
                groups.setdefault(be.rc.endpoint_id, []).append((k, r))
        for items in groups.values():
            be = self.backend(items[0][1].role, items[0][1].task)
            for chunk in batch_api.chunks([(k, be.body(r)) for k, r in items], self.cfg.batch_max_requests):
                done.update(self._run_batch(be, {k: reqs[k] for k, _ in chunk}, chunk))
        return done

    def _run_batch(self, be, reqs: dict[str, ChatRequest], lines: list[tuple[str, dict]]) -> dict[str, CallResult]:
        t0 = time.monotonic()
        cache = self._cache_for(be)
        store = cache if cache is not None else _NoStore()
        try:
            bid, jk = batch_api.submit(be.client, lines, store, be.model)
            status, items = batch_api.collect(be.client, bid, self.cfg.batch_poll_s, self.cfg.batch_timeout_s)
            if status != "timeout":
                store.set_batch(jk, None)             # done: a later run with the same requests starts afresh
        except Exception as exc:  # noqa: BLE001 - the whole batch failed: every item falls back or fails
            log.warning("batch for %s failed: %s", be.model, exc)
            status, items = f"error: {exc}", {}
        latency = (time.monotonic() - t0) * 1000
        done: dict[str, CallResult] = {}
        retry: dict[str, ChatRequest] = {}
        for k, r in reqs.items():
            it = items.get(k) or batch_api.BatchItem(None, error=f"no result in batch ({status})")
            parsed, perr = parse(it.text, r.schema) if it.error is None else (None, it.error)
            if parsed is not None and cache is not None:
                cache.put(k, Entry(it.text, it.tokens_in, it.tokens_out, be.model))
            st = "ok" if parsed is not None else ("error" if it.error else "malformed")
            err = None if parsed is not None else (it.error or f"malformed reply: {perr}")
            if parsed is None and self.cfg.batch_fallback:
                retry[k] = r
                if not (it.tokens_in or it.tokens_out):
                    continue                          # nothing paid: the fallback's own row is enough
            self.ledger.record(key=k, role=r.role, backend=be.kind,
                               model=be.model, prompt_version=r.prompt_version, task=r.task, tokens_in=it.tokens_in,
                               tokens_out=it.tokens_out, latency_ms=latency, attempts=1, status=st, cache_hit=False,
                               error=err, via_batch=True)
            done[k] = CallResult(parsed, it.text or "", k, be.model, False, err, st, it.tokens_in, it.tokens_out,
                                 latency, 1, True)
        if retry:
            log.info("batch: %d of %d items retried synchronously", len(retry), len(reqs))
            futs = {k: self._executor().submit(self._execute, r, be, k, cache) for k, r in retry.items()}
            for k, f in futs.items():
                done[k] = f.result()
        return done

    # ------------------------------------------------------------------ ledger and lifecycle
    def flush(self) -> int:
        """Append the pending ledger rows to llm_calls. Call from the stage's thread."""
        return self.ledger.flush(self.wh)

    def close(self) -> None:
        self.flush()
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None
        for be in self._backends.values():
            be.close()
        self._backends.clear()

    def __enter__(self) -> "ModelLayer":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class _NoStore:
    """Batch bookkeeping when the cache is off: nothing is remembered."""

    def batch_id(self, job_key: str) -> None:
        return None

    def set_batch(self, job_key: str, batch_id: str | None) -> None:
        pass
