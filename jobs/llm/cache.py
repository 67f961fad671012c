"""Content-addressed reply cache: one SQLite file (WAL) under `$VIDEOKR_HOME/llm_cache/`.

The key is sha256 over the model and the canonical request (see `request_key`), so the same request is never paid
twice, across runs and processes. Only replies that parsed and validated are stored. SQLite's file locking makes
the file safe for several processes (Airflow tasks) at once; each thread keeps its own connection.
The file also remembers Batch API jobs in flight, so a rerun after a crash resumes polling instead of paying again.
"""
from __future__ import annotations

import hashlib
import json
import logging
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel

from jobs.llm.structured import json_schema

log = logging.getLogger("videokr.llm.cache")

# context fields that select a different sample of the same request (k solver samples, blind tries)
SAMPLE_FIELDS = ("sample", "sample_index", "seed", "try")


def canonical(obj) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def request_key(model: str, messages: list[dict], schema: type[BaseModel], temperature: float, max_tokens: int,
                context: dict | None = None, extra: dict | None = None, full_context: bool = False) -> str:
    """sha256 hex of the model plus the canonical request.

    Real endpoints never see `context`, so only its sample fields enter the key; the offline stand-in reads the
    whole context, so for it (`full_context`) all of it does.
    """
    ctx = context or {}
    ctx = dict(ctx) if full_context else {k: ctx[k] for k in SAMPLE_FIELDS if k in ctx}
    doc = {"model": model, "messages": messages, "schema": schema.__name__,
           "json_schema": json_schema(schema), "temperature": temperature, "max_tokens": max_tokens,
           "context": ctx, "extra": extra or {}}
    return hashlib.sha256(canonical(doc).encode()).hexdigest()


@dataclass
class Entry:
    raw: str
    tokens_in: int
    tokens_out: int
    model: str


class ReplyCache:
    def __init__(self, path: Path | str):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        con = self._con()
        con.execute("PRAGMA journal_mode=WAL")
        con.execute("""CREATE TABLE IF NOT EXISTS replies (key TEXT PRIMARY KEY, model TEXT, raw TEXT,
                       tokens_in INTEGER, tokens_out INTEGER, created_at REAL)""")
        con.execute("""CREATE TABLE IF NOT EXISTS batches (job_key TEXT PRIMARY KEY, batch_id TEXT,
                       created_at REAL)""")

    def _con(self) -> sqlite3.Connection:
        con = getattr(self._local, "con", None)
        if con is None:
            con = sqlite3.connect(self.path, timeout=60, isolation_level=None, check_same_thread=False)
            con.execute("PRAGMA synchronous=NORMAL")
            con.execute("PRAGMA busy_timeout=60000")
            self._local.con = con
        return con

    def get(self, key: str) -> Entry | None:
        """The stored reply, or None (also when the cache file cannot be read: the call is then simply made)."""
        try:
            row = self._con().execute("SELECT raw, tokens_in, tokens_out, model FROM replies WHERE key = ?",
                                      (key,)).fetchone()
        except sqlite3.Error as exc:
            log.warning("llm cache %s: read failed (%s); calling the model", self.path, exc)
            return None
        return Entry(*row) if row else None

    def get_many(self, keys: list[str]) -> dict[str, Entry]:
        out: dict[str, Entry] = {}
        con = self._con()
        for i in range(0, len(keys), 500):
            chunk = keys[i:i + 500]
            q = f"SELECT key, raw, tokens_in, tokens_out, model FROM replies WHERE key IN ({','.join('?' * len(chunk))})"
            for k, *rest in con.execute(q, chunk).fetchall():
                out[k] = Entry(*rest)
        return out

    def put(self, key: str, entry: Entry) -> None:
        """Store a reply; a failing store is logged, never raised (the reply itself is still returned)."""
        try:
            self._con().execute("INSERT OR REPLACE INTO replies VALUES (?, ?, ?, ?, ?, ?)",
                                (key, entry.model, entry.raw, entry.tokens_in, entry.tokens_out, time.time()))
        except sqlite3.Error as exc:
            log.warning("llm cache %s: store failed (%s)", self.path, exc)

    # ---- Batch API jobs in flight
    def batch_id(self, job_key: str) -> str | None:
        row = self._con().execute("SELECT batch_id FROM batches WHERE job_key = ?", (job_key,)).fetchone()
        return row[0] if row else None

    def set_batch(self, job_key: str, batch_id: str | None) -> None:
        if batch_id is None:
            self._con().execute("DELETE FROM batches WHERE job_key = ?", (job_key,))
        else:
            self._con().execute("INSERT OR REPLACE INTO batches VALUES (?, ?, ?)", (job_key, batch_id, time.time()))
