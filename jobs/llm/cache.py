"""Content-addressed reply cache: one SQLite file (WAL) under `$VIDEOKR_HOME/llm_cache/`.

The key is sha256 over the model and the canonical request (see `request_key`), so the same request is never paid
twice, across runs and processes. Only replies that parsed and validated are stored. SQLite's file locking makes
the file safe for several processes (Airflow tasks) at once; each thread keeps its own connection.
The file also remembers Batch API jobs in flight, so a rerun after a crash resumes polling instead of paying again.
"""
from __future__ import annotations

import functools
import hashlib
import json
import logging
import os
import sqlite3
import threading
import time
import weakref
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel

from jobs.llm.structured import json_schema

log = logging.getLogger("videokr.llm.cache")

# context fields that select a different sample of the same request (k solver samples, blind tries)
SAMPLE_FIELDS = ("sample", "sample_index", "seed", "try")


def canonical(obj) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def _map_frame_parts(messages: list[dict], fn) -> list[dict]:
    """The messages with every image part that carries a `frame` identity replaced by fn(part)."""
    out = []
    for m in messages:
        content = m.get("content")
        if isinstance(content, list) and any(isinstance(p, dict) and "frame" in p for p in content):
            m = {**m, "content": [fn(p) if isinstance(p, dict) and "frame" in p else p for p in content]}
        out.append(m)
    return out


def keyed_messages(messages: list[dict]) -> list[dict]:
    """The messages as the cache key sees them: an image part that carries its identity (`frame`: video sha256,
    instant, size, format, quality; see jobs.media.model_frames) is keyed by that identity instead of its
    encoded bytes, so an encoder upgrade that changes a JPEG's bytes does not pay for every call again."""
    return _map_frame_parts(messages, lambda p: {"type": p.get("type"), "frame": p["frame"]})


def wire_messages(messages: list[dict]) -> list[dict]:
    """The messages as an endpoint receives them: image parts without their `frame` identity."""
    return _map_frame_parts(messages, lambda p: {k: v for k, v in p.items() if k != "frame"})


def request_key(model: str, messages: list[dict], schema: type[BaseModel], temperature: float, max_tokens: int,
                context: dict | None = None, extra: dict | None = None, full_context: bool = False) -> str:
    """sha256 hex of the model plus the canonical request.

    Real endpoints never see `context`, so only its sample fields enter the key; the offline stand-in reads the
    whole context, so for it (`full_context`) all of it does.
    """
    ctx = context or {}
    ctx = dict(ctx) if full_context else {k: ctx[k] for k in SAMPLE_FIELDS if k in ctx}
    doc = {"model": model, "messages": keyed_messages(messages), "schema": schema.__name__,
           "json_schema": json_schema(schema), "temperature": temperature, "max_tokens": max_tokens,
           "context": ctx, "extra": extra or {}}
    return hashlib.sha256(canonical(doc).encode()).hexdigest()


@dataclass
class Entry:
    raw: str
    tokens_in: int
    tokens_out: int
    model: str
    ledgered: bool = True        # False until the ledger row of the call that paid for it is committed


_CACHES: "weakref.WeakSet[ReplyCache]" = weakref.WeakSet()


def _close_before_fork() -> None:
    """Close every cache connection before this process forks (Airflow/Celery workers, process pools): SQLite
    connections must not cross a fork, or the child's locks on the file are wrong and concurrent writers lose
    rows. Each cache's lock is held across the fork, so no operation is half done; connections reopen lazily."""
    for cache in list(_CACHES):
        cache._op.acquire()
        for con in cache._all:
            try:
                con.close()
            except sqlite3.Error:
                pass
        cache._all = []
        cache._local = threading.local()


def _release_after_fork() -> None:
    for cache in list(_CACHES):
        if cache._op.locked():
            cache._op.release()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(before=_close_before_fork, after_in_parent=_release_after_fork,
                        after_in_child=_release_after_fork)


def _locked(method):
    """Run a cache operation under the cache's lock (so a fork never splits it; see _close_before_fork)."""
    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        with self._op:
            return method(self, *args, **kwargs)
    return wrapper


class ReplyCache:
    def __init__(self, path: Path | str):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        self._all: list[sqlite3.Connection] = []      # every thread's connection (see _close_before_fork)
        self._op = threading.Lock()                   # held by each operation, and across a fork
        _CACHES.add(self)
        with self._op:
            self._setup(self._con())

    def _setup(self, con: sqlite3.Connection) -> None:
        con.execute("PRAGMA journal_mode=WAL")
        con.execute("""CREATE TABLE IF NOT EXISTS replies (key TEXT PRIMARY KEY, model TEXT, raw TEXT,
                       tokens_in INTEGER, tokens_out INTEGER, created_at REAL, ledgered INTEGER NOT NULL DEFAULT 1)""")
        con.execute("""CREATE TABLE IF NOT EXISTS batches (job_key TEXT PRIMARY KEY, batch_id TEXT,
                       created_at REAL)""")
        cols = {r[1] for r in con.execute("PRAGMA table_info(replies)").fetchall()}
        if "ledgered" not in cols:   # caches written before paid calls were tracked: their ledger rows exist
            try:
                con.execute("ALTER TABLE replies ADD COLUMN ledgered INTEGER NOT NULL DEFAULT 1")
            except sqlite3.OperationalError as exc:   # another process migrated it first
                if "duplicate column" not in str(exc):
                    raise

    def _con(self) -> sqlite3.Connection:
        con = getattr(self._local, "con", None)
        if con is None:
            con = sqlite3.connect(self.path, timeout=60, isolation_level=None, check_same_thread=False)
            con.execute("PRAGMA synchronous=NORMAL")
            con.execute("PRAGMA busy_timeout=60000")
            self._local.con = con
            self._all.append(con)
        return con

    @_locked
    def get(self, key: str) -> Entry | None:
        """The stored reply, or None (also when the cache file cannot be read: the call is then simply made)."""
        try:
            row = self._con().execute("SELECT raw, tokens_in, tokens_out, model, ledgered = 1 FROM replies "
                                      "WHERE key = ?", (key,)).fetchone()
        except sqlite3.Error as exc:
            log.warning("llm cache %s: read failed (%s); calling the model", self.path, exc)
            return None
        return Entry(*row) if row else None

    @_locked
    def get_many(self, keys: list[str]) -> dict[str, Entry]:
        out: dict[str, Entry] = {}
        con = self._con()
        for i in range(0, len(keys), 500):
            chunk = keys[i:i + 500]
            q = (f"SELECT key, raw, tokens_in, tokens_out, model, ledgered = 1 FROM replies "
                 f"WHERE key IN ({','.join('?' * len(chunk))})")
            for k, *rest in con.execute(q, chunk).fetchall():
                out[k] = Entry(*rest)
        return out

    @_locked
    def put(self, key: str, entry: Entry) -> None:
        """Store a reply of a paid call, not yet ledgered (see mark_ledgered); a failing store is logged, never
        raised (the reply itself is still returned)."""
        try:
            self._con().execute("INSERT OR REPLACE INTO replies (key, model, raw, tokens_in, tokens_out, created_at, "
                                "ledgered) VALUES (?, ?, ?, ?, ?, ?, 0)",
                                (key, entry.model, entry.raw, entry.tokens_in, entry.tokens_out, time.time()))
        except sqlite3.Error as exc:
            log.warning("llm cache %s: store failed (%s)", self.path, exc)

    @_locked
    def mark_ledgered(self, keys: list[str]) -> None:
        """The ledger rows of these paid calls are committed: a later hit is free. Until then a hit is recorded
        as the paid call (its chunk, with the ledger row, was lost in a crash), so no spend goes unaccounted."""
        con = self._con()
        try:
            for i in range(0, len(keys), 500):
                chunk = keys[i:i + 500]
                con.execute(f"UPDATE replies SET ledgered = 1 WHERE key IN ({','.join('?' * len(chunk))})", chunk)
        except sqlite3.Error as exc:
            log.warning("llm cache %s: marking ledgered failed (%s); a later hit is recorded as paid", self.path, exc)

    # ---- Batch API jobs in flight
    @_locked
    def batch_id(self, job_key: str) -> str | None:
        row = self._con().execute("SELECT batch_id FROM batches WHERE job_key = ?", (job_key,)).fetchone()
        return row[0] if row else None

    @_locked
    def set_batch(self, job_key: str, batch_id: str | None) -> None:
        if batch_id is None:
            self._con().execute("DELETE FROM batches WHERE job_key = ?", (job_key,))
        else:
            self._con().execute("INSERT OR REPLACE INTO batches VALUES (?, ?, ?)", (job_key, batch_id, time.time()))
