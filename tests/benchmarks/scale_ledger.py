"""bench_scale.py's ledger figure: does a 1,000-row `llm_calls` flush cost the same at 10M ledger rows as at 10K?

The flush is the stages' own: 1,000 calls recorded in a `jobs.llm.ledger.Ledger` (untimed), then `Ledger.flush(wh)`
(timed): typed rows appended through `Warehouse.write(..., append=True)`, one DuckLake commit. A big ledger is grown
to each size through the same append path in batches of up to 1M rows (the files maintenance leaves: merged), and
optionally with `small_files` extra 1,000-row files (the flushes of a day's runs before maintenance merges them).
On a shared machine one flush varies by 2x from moment to moment, so sizes are compared within one moment: each
round flushes into the big ledger and into a reference ledger of the smallest size, alternating which goes first,
and the figure is the ratio of the two medians over `rounds` rounds.
"""
from __future__ import annotations

import statistics
import tempfile
import time
from datetime import datetime
from pathlib import Path


def _batch(start: int, n: int):
    """n llm_calls rows as one Arrow table (vectorised: 10M rows build in seconds), ids unique per payment."""
    import numpy as np
    import pyarrow as pa
    ids = np.arange(start, start + n)
    keys = pa.array(np.char.add("k", ids.astype(str)))
    return pa.table({"call_id": pa.array(np.char.add(np.char.add("k", ids.astype(str)), ".p")), "request_key": keys,
                     "role": pa.array(["solver"] * n), "task": pa.array(["solve"] * n), "model": pa.array(["m"] * n),
                     "tokens_in": pa.array(800 + ids % 2000), "tokens_out": pa.array(100 + ids % 600),
                     "status": pa.array(["ok"] * n), "cache_hit": pa.array(np.zeros(n, dtype=bool)),
                     "created_at": pa.array([datetime(2025, 1, 2)] * n, type=pa.timestamp("us"))})


class _Lake:
    def __init__(self, root: Path, name: str):
        from jobs.llm.config import load
        from jobs.llm.ledger import Ledger
        from videokr.settings import Settings
        from warehouse import Warehouse
        home = root / name
        self.settings = Settings.load(home=home, catalog_url=f"sqlite:{home / 'catalog.sqlite'}",
                                      data_path=f"{home}/data/")
        self.wh, self.rows, self.n = Warehouse(self.settings), 0, 0
        self.ledger = Ledger(load(self.settings), f"bench-{name}")

    def grow(self, size: int, batch: int = 1_000_000) -> None:
        while self.rows < size:
            n = min(batch, size - self.rows)
            self.wh.write("llm_calls", _batch(self.rows, n), "grow", append=True)
            self.rows += n

    def flush(self) -> float:
        """One stage flush of 1,000 paid calls; seconds of the flush alone."""
        for i in range(1000):
            self.n += 1
            self.ledger.record(key=f"req-{self.n}", role="solver", backend="offline", model="offline-m",
                               prompt_version="solve.v1", task="solve", tokens_in=800 + i, tokens_out=120,
                               latency_ms=12.0, attempts=1, status="ok", cache_hit=False, error=None)
        t0 = time.perf_counter()
        self.ledger.flush(self.wh)
        dt = time.perf_counter() - t0
        self.rows += 1000
        return dt

    def files(self) -> int:
        return self.wh.con.execute("SELECT count(*) FROM ducklake_list_files('lake', 'llm_calls')").fetchone()[0]


def ledger_flush(sizes: list[int], rounds: int = 15, small_files: int = 0) -> dict[int, tuple[float, float]]:
    """{size: (median flush s at that size, median flush s of the reference ledger in the same rounds)}."""
    out: dict[int, tuple[float, float]] = {}
    with tempfile.TemporaryDirectory(prefix="bench_ledger_") as tmp:
        ref, big = _Lake(Path(tmp), "ref"), _Lake(Path(tmp), "big")
        ref.grow(min(sizes))
        for f in (ref.flush, big.flush):   # warm-up: each connection's first commit loads its catalog
            f()
        for size in sorted(sizes):
            big.grow(size)
            if small_files and size == max(sizes):
                for _ in range(small_files):
                    big.flush()
            tb, tr = [], []
            for r in range(rounds):
                pair = (big.flush, ref.flush) if r % 2 == 0 else (ref.flush, big.flush)
                a, b = pair[0](), pair[1]()
                (tb, tr)[r % 2].append(a)
                (tr, tb)[r % 2].append(b)
            out[size] = (statistics.median(tb), statistics.median(tr))
            print(f"   ledger at {big.rows - 1000 * rounds:>12,} rows ({big.files():>5} files): 1,000-row flush "
                  f"{out[size][0] * 1000:6.1f} ms; reference ledger ({ref.files()} files) in the same rounds "
                  f"{out[size][1] * 1000:6.1f} ms; ratio {out[size][0] / out[size][1]:.2f}", flush=True)
        ref.wh.close()
        big.wh.close()
    return out
