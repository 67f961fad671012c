"""Where `videokr run`'s logs go: into Airflow's own task log files, where the UI reads them; not the terminal.

`dag.test()` runs every task inside this process, so without this the whole Airflow log (about 1,600 lines) lands
on the terminal and the UI finds no task log for these runs. `route_logs` points Airflow's structured logging
(structlog and stdlib alike) at one sink, as JSON lines, the format the task supervisor writes in a real
deployment. An Airflow listener tells the sink which task is running: its lines go to that task's file under
`$VIDEOKR_HOME/airflow/logs/dag_id=.../run_id=.../task_id=.../attempt=N.log` (the path the UI renders from
`[logging] log_filename_template`), the rest to `logs/videokr-run/<start>.log`. Every line also goes to a
callback (the progress display). `quiet_fds` sends whatever still writes to the process's stdout/stderr (a
library's print, a subprocess) to the run log, and hands back the terminal for the progress display.
"""
from __future__ import annotations

import json
import os
import sys
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, TextIO

Line = dict   # a parsed log line: {"timestamp", "level", "logger", "event", ...}


class LogSink:
    """A binary stream for Airflow's JSON logging that routes whole lines to the current task's file."""

    def __init__(self, base: Path, run_log: Path, on_line: Callable[[Line, str | None], None] | None = None):
        self.base, self.run_log, self.on_line = Path(base), Path(run_log), on_line
        self.run_log.parent.mkdir(parents=True, exist_ok=True)
        self._run_file = open(self.run_log, "a", encoding="utf-8")
        self._task_file: TextIO | None = None
        self.task_key: str | None = None      # "dag_id/task_id[map_index]" while a task runs
        self.task_files: list[Path] = []
        self._partial = threading.local()
        self._lock = threading.Lock()

    # -- the stream interface structlog and logging.StreamHandler write to
    def write(self, data) -> int:
        text = data.decode("utf-8", "replace") if isinstance(data, (bytes, bytearray)) else str(data)
        buf = getattr(self._partial, "buf", "") + text
        *lines, rest = buf.split("\n")
        self._partial.buf = rest
        for line in lines:
            if line.strip():
                self._route(line)
        return len(data)

    def flush(self) -> None:
        with self._lock:
            for f in (self._task_file, self._run_file):
                if f and not f.closed:
                    f.flush()

    def writable(self) -> bool:
        return True

    # -- task boundaries (from the listener)
    def open_task(self, ti) -> Path:
        from airflow.utils.helpers import log_filename_template_renderer
        rel = log_filename_template_renderer()(ti=ti, try_number=ti.try_number)
        path = self.base / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        with self._lock:
            self._close_task()
            self._task_file = open(path, "a", encoding="utf-8")
            suffix = f"[{ti.map_index}]" if getattr(ti, "map_index", -1) >= 0 else ""
            self.task_key = f"{ti.dag_id}/{ti.task_id}{suffix}"
        self.task_files.append(path)
        return path

    def close_task(self) -> None:
        with self._lock:
            self._close_task()

    def _close_task(self) -> None:
        if self._task_file is not None:
            self._task_file.close()
        self._task_file, self.task_key = None, None

    def close(self) -> None:
        with self._lock:
            self._close_task()
            self._run_file.close()

    def _route(self, line: str) -> None:
        try:
            rec = json.loads(line)
            if not isinstance(rec, dict):
                raise ValueError
        except ValueError:
            rec = {"event": line, "level": "info", "logger": ""}
        with self._lock:
            task = self.task_key
            if self._task_file is not None:
                self._task_file.write(line + "\n")
            elif not self._run_file.closed:
                self._run_file.write(plain(rec) + "\n")
        if self.on_line is not None:
            try:
                self.on_line(rec, task)
            except Exception:  # noqa: BLE001 - the display must never break the run
                pass


def plain(rec: Line) -> str:
    """One readable line for the run log: time, level, logger, message (and any exception text)."""
    exc = rec.get("exception")
    text = f"{rec.get('timestamp', '')} {str(rec.get('level', '')):<7} {rec.get('logger', '')}: {rec.get('event', '')}"
    if exc:
        text += "\n" + (exc if isinstance(exc, str) else json.dumps(exc, default=str))
    return text


def _listener(sink: LogSink, on_task: Callable[[str, object], None] | None = None):
    """An Airflow listener: the task runner calls it in this process around each task's execution."""
    from airflow.sdk._shared.listeners import hookimpl

    def event(what: str, ti) -> None:
        if on_task is not None:
            try:
                on_task(what, ti)
            except Exception:  # noqa: BLE001 - the display must never break the run
                pass

    class TaskBoundaries:
        @hookimpl
        def on_task_instance_running(self, previous_state, task_instance):
            sink.open_task(task_instance)
            event("running", task_instance)

        @hookimpl
        def on_task_instance_success(self, previous_state, task_instance):
            sink.close_task()
            event("success", task_instance)

        @hookimpl
        def on_task_instance_failed(self, previous_state, task_instance, error):
            sink.close_task()
            event("failed", task_instance)

        @hookimpl
        def on_task_instance_skipped(self, previous_state, task_instance):
            sink.close_task()
            event("skipped", task_instance)

    return TaskBoundaries()


_STARTED = time.strftime("%Y%m%dT%H%M%S")


def run_log_path(airflow_home: Path) -> Path:
    """This process's run log: logs/videokr-run/<start time>.log (lines outside any task, stray output)."""
    return Path(airflow_home) / "logs" / "videokr-run" / f"{_STARTED}-{os.getpid()}.log"


@contextmanager
def route_logs(airflow_home: Path, on_line=None, on_task=None):
    """Point Airflow's logging at a LogSink for the duration; yields the sink."""
    from airflow.sdk.listener import get_listener_manager
    from airflow.sdk.log import configure_logging
    sink = LogSink(Path(airflow_home) / "logs", run_log_path(airflow_home), on_line)
    configure_logging(json_output=True, output=sink, cache_logger_on_first_use=False)
    listener = _listener(sink, on_task)
    manager = get_listener_manager()
    manager.add_listener(listener)
    try:
        yield sink
    finally:
        try:
            manager.pm.unregister(listener)
        except Exception:  # noqa: BLE001
            pass
        sink.flush()
        configure_logging(json_output=False, output=sys.stderr)
        sink.close()


@contextmanager
def quiet_fds(log_path: Path):
    """Send fds 1 and 2 to `log_path` (stray prints, subprocess output); yield a text stream on the real terminal."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved_out, saved_err = os.dup(1), os.dup(2)
    log_path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    terminal = os.fdopen(os.dup(saved_out), "w", buffering=1, encoding="utf-8", errors="replace")
    try:
        os.dup2(fd, 1)
        os.dup2(fd, 2)
        yield terminal
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os.dup2(saved_out, 1)
        os.dup2(saved_err, 2)
        for f in (fd, saved_out, saved_err):
            os.close(f)
        terminal.close()
