"""The terminal side of `videokr run`: one progress line per stage, built from the run's own log lines and ledgers.

Counts come from the stages' progress log lines ("frames: 12/40 videos", "collect: 30/299 knowledge points",
"rendered 10/58", a trainer's "step 3/10 ... loss 2.31"), so no stage needs a display API; cost comes from the
ledgers (`llm_calls`, `api_usage`), read-only, every few seconds. On a terminal the lines are a rich live table;
otherwise plain lines: one when a stage starts, one at most every `every_s` seconds while it changes, one at its end.
"""
from __future__ import annotations

import re
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, TextIO

COUNTER = re.compile(r"(?<![\d/.])(?P<done>\d+)\s*/\s*(?P<total>\d+)(?![\d/])(?P<unit>(?:\s+[A-Za-z][A-Za-z ]*)?)")
LOSS = re.compile(r"\bloss\b[\s=:]+(-?\d+(?:\.\d+)?(?:e[-+]?\d+)?)", re.IGNORECASE)
UNIT_STOP = re.compile(r"(^|\s+)(done|in|of|at|with|and|for|from|to|used|units?|loss|lr|step|epoch)\b.*$")


@dataclass
class Counter:
    label: str
    unit: str
    done: int
    total: int
    first_t: float
    first_done: int
    last_t: float

    def rate(self, stage_start: float) -> float | None:
        if self.last_t > self.first_t and self.done > self.first_done:
            return (self.done - self.first_done) / (self.last_t - self.first_t)
        return self.done / (self.last_t - stage_start) if self.last_t - stage_start >= 1 and self.done else None


@dataclass
class StageLine:
    name: str
    started: float
    finished: float | None = None
    state: str = "running"
    task: str = ""
    task_started: float = 0.0
    tasks_done: int = 0
    counters: dict[str, Counter] = field(default_factory=dict)
    current: str | None = None
    loss: float | None = None
    cost0: dict = field(default_factory=dict)
    cost: dict = field(default_factory=dict)

    def counter(self) -> Counter | None:
        """The stage's own counter ("frames: 3/9 videos") over helpers' ("call_many: 40/90"), else the latest."""
        own = [c for k, c in self.counters.items() if k.startswith(self.name)]
        return own[-1] if own else self.counters.get(self.current or "")


def cost_delta(before: dict, after: dict) -> dict:
    return {k: after.get(k, 0) - before.get(k, 0) for k in after}


def fmt_cost(c: dict) -> str:
    parts = []
    if c.get("llm_calls"):
        parts.append(f"{c['llm_calls']:,} LLM calls ${c.get('usd', 0):,.2f}")
    if c.get("units"):
        parts.append(f"{c['units']:,} API units")
    return " · ".join(parts) or "no paid calls"


def fmt_s(s: float) -> str:
    s = int(max(0, s))
    return f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}" if s >= 3600 else f"{s // 60}:{s % 60:02d}"


class Progress:
    """Collects progress per stage; `line(stage)` is what the terminal shows."""

    def __init__(self, stages: list[str], out: TextIO, tty: bool, cost_fn: Callable[[], dict] | None = None,
                 every_s: float = 30.0, poll_s: float = 5.0):
        self.order, self.out, self.tty, self.cost_fn = stages, out, tty, cost_fn
        self.every_s, self.poll_s = every_s, poll_s
        self.stages: dict[str, StageLine] = {}
        self.active: str | None = None
        self.cost: dict = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._last_plain = 0.0
        self._last_text = ""
        self._live = None
        self._poller: threading.Thread | None = None

    # -- feeding
    def on_line(self, rec: dict, task: str | None) -> None:
        logger, event = str(rec.get("logger") or ""), str(rec.get("event") or "")
        if not logger.startswith(("videokr", "train", "jobs")) or "/" not in event and "loss" not in event:
            return
        with self._lock:
            st = self.stages.get(self.active or "")
            if st is None:
                return
            m = COUNTER.search(event)
            if m and 0 <= int(m["done"]) <= int(m["total"]) and int(m["total"]) > 0:
                label = event[:m.start()].strip().rstrip(":").strip() or logger.rsplit(".", 1)[-1]
                unit = UNIT_STOP.sub("", m["unit"] or "").strip()
                now, done, total = time.time(), int(m["done"]), int(m["total"])
                c = st.counters.get(label)
                if c is None or c.total != total or done < c.done:
                    st.counters[label] = Counter(label, unit, done, total, now, done, now)
                else:
                    c.done, c.last_t, c.unit = done, now, unit or c.unit
                st.current = label
            loss = LOSS.search(event)
            if loss:
                st.loss = float(loss.group(1))
        self._show()

    def on_task(self, what: str, ti) -> None:
        with self._lock:
            st = self.stages.get(self.active or "")
            if st is None:
                return
            if what == "running":
                st.task = ti.task_id + (f"[{ti.map_index}]" if getattr(ti, "map_index", -1) >= 0 else "")
                st.task_started = time.time()
            else:
                st.tasks_done += 1
        self._show()

    def start_stage(self, name: str) -> None:
        self._poll_cost()
        with self._lock:
            self.active = name
            self.stages[name] = StageLine(name, time.time(), cost0=dict(self.cost))
        if not self.tty:
            self._print(self.line(name))
            self._last_plain = time.time()
        self._show()

    def end_stage(self, name: str, state: str) -> None:
        self._poll_cost()
        with self._lock:
            st = self.stages[name]
            st.finished, st.state = time.time(), state
            st.cost = cost_delta(st.cost0, self.cost)
            self.active = None
        if not self.tty:
            self._print(self.line(name))
        self._show()

    # -- rendering
    def line(self, name: str) -> str:
        st = self.stages[name]
        now = st.finished or time.time()
        mark = {"running": "▶", "success": "✔"}.get(st.state, "✘")
        parts = [f"{mark} {name:<14}"]
        c = st.counter()
        if "[" in st.task and st.state == "running":       # a mapped task: one partition (subject) of the stage
            parts.append(f"partition {int(st.task.split('[')[1].rstrip(']')) + 1}")
        if c is not None:
            unit = f" {c.unit}" if c.unit else ""
            label = "" if c.label == name else f"{c.label} "
            parts.append(f"{label}{c.done:,}/{c.total:,}{unit}")
            rate = c.rate(max(st.started, st.task_started))
            if rate:
                parts.append(f"{rate:.2f}/s" if rate < 10 else f"{rate:,.0f}/s")
                if st.state == "running" and c.done < c.total:
                    parts.append(f"ETA {fmt_s((c.total - c.done) / rate)}")
        elif st.state == "running":
            parts.append(f"task {st.task or '...'}")
        if st.loss is not None:
            parts.append(f"loss {st.loss:.4g}")
        cost = st.cost if st.finished else cost_delta(st.cost0, self.cost)
        parts.append(fmt_cost(cost))
        parts.append(fmt_s(now - st.started) if st.state == "running" else f"{now - st.started:.0f} s")
        if st.state not in ("running", "success"):
            parts.append(st.state)
        return " · ".join(parts[:1]) + " " + " · ".join(parts[1:])

    def _print(self, text: str) -> None:
        self.out.write(text + "\n")
        self.out.flush()

    def _renderable(self):
        from rich.text import Text
        return Text("\n".join(self.line(n) for n in self.stages))

    def _show(self) -> None:
        if self.tty:
            if self._live is not None:
                self._live.update(self._renderable())
            return
        name = self.active
        if name is None or time.time() - self._last_plain < self.every_s:
            return
        text = self.line(name)
        if text != self._last_text:
            self._last_text, self._last_plain = text, time.time()
            self._print(text)

    # -- cost polling
    def _poll_cost(self) -> None:
        if self.cost_fn is None:
            return
        try:
            cost = self.cost_fn()
        except Exception:  # noqa: BLE001 - no warehouse yet, or a busy catalog: keep the last figures
            return
        with self._lock:
            self.cost = cost

    def _poll_loop(self) -> None:
        while not self._stop.wait(self.poll_s):
            self._poll_cost()
            self._show()

    def __enter__(self) -> "Progress":
        if self.tty:
            from rich.console import Console
            from rich.live import Live
            self._live = Live(self._renderable(), console=Console(file=self.out, force_terminal=True),
                              refresh_per_second=2, transient=False)
            self._live.__enter__()
        self._poller = threading.Thread(target=self._poll_loop, name="videokr-progress", daemon=True)
        self._poller.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        if self._poller is not None:
            self._poller.join(10)
        if hasattr(self.cost_fn, "close"):
            self.cost_fn.close()
        if self._live is not None:
            self._live.update(self._renderable())
            self._live.__exit__(*exc)


class LedgerCost:
    """The run's paid calls so far from the ledgers: {llm_calls, usd, tokens, units}.

    One read-only catalog connection for the whole run (it sees every later commit): opening one costs about 0.5
    CPU s, which polled every few seconds was a tenth of an unchanged repeat's CPU. None until the catalog exists."""

    def __init__(self, settings, since: float):
        self.settings = settings
        self.start = datetime.fromtimestamp(since, tz=timezone.utc).replace(tzinfo=None)
        self._wh = None
        self._lock = threading.Lock()          # the poller thread and the stage boundaries share the connection

    def __call__(self) -> dict:
        with self._lock:
            if self._wh is None:
                url = self.settings.catalog_url
                if url.startswith("sqlite:") and not Path(url.split(":", 1)[1]).exists():
                    raise FileNotFoundError(url)          # a fresh home: no ledger yet (cheap, no connection)
                from warehouse import Warehouse
                self._wh = Warehouse(self.settings, read_only=True)
            n, usd, tok = self._wh.query("SELECT count(*), coalesce(sum(cost_usd), 0), coalesce(sum(tokens_in + "
                                         "tokens_out), 0) FROM llm_calls WHERE created_at >= ?", [self.start]).row(0)
            units = self._wh.query("SELECT coalesce(sum(units), 0) FROM api_usage WHERE called_at >= ?",
                                   [self.start]).item()
        return {"llm_calls": int(n), "usd": float(usd), "tokens": int(tok), "units": int(units)}

    def close(self) -> None:
        with self._lock:
            if self._wh is not None:
                self._wh.close()
                self._wh = None


def ledger_cost_fn(settings, since: float) -> LedgerCost:
    return LedgerCost(settings, since)
