"""The bad-input sweep, part 1: bank files, unknown subjects (CLI and DAG), hostile ids from the search API,
ineligible videos, and hostile paths reaching the frames stage.

One warehouse loaded from the mini bank (conftest.py's sweep_world, shared with test_bad_media.py); each stage runs
once over a batch of bad items (module-scoped fixtures), and each case is its own test that records its row. Every
item case expects a clear error naming the item and a quarantine row; a config error (no item) expects the file
named, exit status 2 and no traceback. Each batch also checks that every key the warehouse held before the run is still there after it.
(Screen, downloads, captions and model replies: test_bad_media.py.)
"""
from __future__ import annotations

import importlib
import json
import logging
import re
import subprocess
import sys
from pathlib import Path
from urllib.parse import parse_qs

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from tests.reliability import sweep
from tests.reliability.table import FULL, check
from tests.reliability.test_youtube_faults import LoopbackHttp
from tests.youtube_fakes import video_item

MINI_BANK = Path(__file__).resolve().parents[1] / "fixtures" / "mini_bank.yaml"
KNOWN = ("physics", "chemistry", "medicine")
# the bounded form checks the bank's own stage, a warehouse-scoped one and a mapped one; the full form every stage
SOME_STAGES = ("knowledge_bank", "generate", "frames")


def stages() -> list[str]:
    from jobs.stages import MODULES
    return list(MODULES) if FULL else list(SOME_STAGES)


@pytest.fixture(scope="module")
def world(sweep_world):
    """(settings, root) of the sweep's warehouse (conftest.py)."""
    settings, env = sweep_world
    return settings, Path(env["VIDEOKR_HOME"]).parent


@pytest.fixture
def environ(sweep_world, monkeypatch):
    """The sweep's warehouse in os.environ, for code that loads its own settings (the CLI, a DAG task)."""
    for k, v in sweep_world[1].items():
        monkeypatch.setenv(k, v)


def cli(*argv: str) -> tuple[int, str]:
    """`videokr ...` in this process (the CLI's own main): (exit status, stderr)."""
    import contextlib
    import io

    from videokr.cli.main import main
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        rc = main(list(argv))
    return rc, err.getvalue()


def n_runs(settings) -> int:
    from warehouse import Warehouse
    with Warehouse(settings, read_only=True) as wh:
        return wh.query("SELECT count(*) FROM runs").item()


# ---------------------------------------------------------------- knowledge-bank files (config errors: no item)

BANKS = {
    "malformed YAML": ("version: 1\ndisciplines:\n  - name: [Natural Sciences\n", ["not valid"]),
    "wrong version (99)": (MINI_BANK.read_text().replace("version: 1", "version: 99"),
                           ["version 99", "not supported"]),
    "structure (no keywords, unknown discipline)": (
        "version: 1\ndisciplines:\n  - name: Astrology\n    subjects:\n      - name: Signs\n        courses:\n"
        "          - name: C\n            lectures:\n              - name: L\n                knowledge_points:\n"
        "                  - name: K\n                    statement: s\n                    keywords: []\n",
        ["unknown discipline", "Signs > C > L > K", "keywords"]),
    "oversized field (a 100 kB statement)": (
        MINI_BANK.read_text().replace('statement: "For small', 'statement: "' + "x" * 100_000 + ' For small'),
        ["Period of a simple pendulum", "statement", "100"]),
}


@pytest.fixture(scope="module")
def banks(world):
    """Every bad bank through `videokr stage knowledge_bank --param source=...`: case -> (path, exit, stderr)."""
    settings, root = world
    out = {}
    before = sweep.keys(settings)
    with pytest.MonkeyPatch.context() as mp:
        for k, v in {"VIDEOKR_HOME": str(settings.home), "VIDEOKR_CONFIG": str(root / "none.toml")}.items():
            mp.setenv(k, v)
        for n, (case, (text, _)) in enumerate(BANKS.items()):
            path = root / f"bank-{n}.yaml"
            path.write_text(text)
            out[case] = (path, *cli("stage", "knowledge_bank", "--param", f"source={path}"))
    return out, sweep.lost(before, sweep.keys(settings))


@pytest.mark.parametrize("case", list(BANKS))
def test_bad_bank_file(banks, case):
    runs, lost = banks
    path, rc, err = runs[case]
    words = BANKS[case][1]
    check(f"bank: {case}", "exit 2; error names the file and the problem; nothing written lost",
          f"exit {rc}: {err.strip()[:140]}; lost: {lost}",
          rc == 2 and str(path) in err and all(w in err for w in words) and "Traceback" not in err and not lost)


# ---------------------------------------------------------------- unknown subjects: CLI and DAG


def test_unknown_subject_cli_subprocess(world, environ):
    settings, _ = world
    runs = n_runs(settings)
    res = subprocess.run([sys.executable, "-m", "videokr.cli", "stage", "collect", "--subjects", "typo"],
                         capture_output=True, text=True, timeout=120)
    err = res.stderr.strip()
    check("unknown subject: `videokr stage collect --subjects typo`", "exit 2 naming 'typo' and the known subjects",
          f"exit {res.returncode}: {err[-150:]}", res.returncode == 2 and "'typo'" in err
          and all(s in err for s in KNOWN) and "Traceback" not in err and n_runs(settings) == runs)


def test_unknown_subject_cli_every_stage(world, environ):
    names = stages()
    settings, _ = world
    runs = n_runs(settings)
    bad = {}
    for stage in names:
        rc, err = cli("stage", stage, "--subjects", "physics,typo")
        if not (rc == 2 and "'typo'" in err and "physics" in err and "chemistry" in err):
            bad[stage] = (rc, err.strip()[-120:])
    check(f"unknown subject: {'every stage' if FULL else ', '.join(names)} (CLI)",
          f"all {len(names)} stages exit 2 naming it; nothing run",
          f"{len(names) - len(bad)}/{len(names)} refused{'; ' + str(bad) if bad else ''}; "
          f"{n_runs(settings) - runs} runs", not bad and n_runs(settings) == runs)


def test_unknown_subject_dag_check(world, environ):
    """Each stage DAG's first task (scope.check_subjects), called as the worker calls it, without a scheduler."""
    from jobs.scope import UnknownSubjects
    names = stages()
    bad, ok = {}, 0
    for stage in names:
        dag = importlib.import_module(f"dags.{stage}").dag
        task = dag.get_task("scope.check_subjects")
        if stage in ("knowledge_bank", "generate"):      # the bank file's subjects, the warehouse's subjects
            ok += task.python_callable(params={"subjects": ["physics"]}) == ["physics"]
        try:
            task.python_callable(params={"subjects": ["physics", "typo"]})
            bad[stage] = "accepted"
        except UnknownSubjects as exc:
            if not ("'typo'" in str(exc) and all(s in str(exc) for s in KNOWN)):
                bad[stage] = str(exc)[:100]
    check(f"unknown subject: {'every DAG' if FULL else ', '.join(names)} (DAG check task)",
          f"all {len(names)} DAGs fail the task naming 'typo' and the known subjects (2 pass 'physics')",
          f"{len(names) - len(bad)} refused, {ok} of 2 passed physics{'; ' + str(bad) if bad else ''}",
          not bad and ok == 2)


def test_subjects_param_of_wrong_type(world):
    import copy

    from airflow.sdk.exceptions import ParamValidationError
    params = copy.deepcopy(importlib.import_module("dags.generate").dag.params)
    try:
        params["subjects"] = "physics"
        params.validate()
        observed = "accepted"
    except ParamValidationError as exc:
        observed = str(exc).splitlines()[0]
    check("DAG params: subjects given as a string", "ParamValidationError naming the param", observed,
          "subjects" in observed and "array" in observed)


# ---------------------------------------------------------------- collect: hostile ids and ineligible videos

GOOD, NONCC, LONG, NOCAPS, GONE = "goodvideo01", "noncc000001", "toolong0001", "nocaptions1", "vanished001"
HOSTILE = {"path traversal id": "../../etc/p", "absolute path id": "/etc/passwd", "id with NUL": "abc\x00defghi",
           "id with trailing newline": "abcdefghijk\n", "id with a control character (ESC)": "abcde\x1bfghij",
           "oversized id (5,000 chars)": "x" * 5000}
INELIGIBLE = {"non-CC license": (NONCC, "license"), "over-30-minute video (metadata)": (LONG, "duration"),
              "missing captions (metadata)": (NOCAPS, "captions"), "video gone (not in videos.list)": (GONE,
                                                                                                 "unavailable")}


def _youtube(request: Request) -> Response:
    qs = {k: v[0] for k, v in parse_qs(request.query_string.decode()).items()}
    if request.path.endswith("/search"):
        ids = [GOOD, NONCC, LONG, NOCAPS, GONE, *HOSTILE.values()] if "titration" in qs["q"] else []
        return Response(json.dumps({"items": [{"id": {"kind": "youtube#video", "videoId": v}} for v in ids]}), 200,
                        content_type="application/json")
    spec = {GOOD: {}, NONCC: {"license": "youtube"}, LONG: {"duration": "PT45M"}, NOCAPS: {"caption": "false"}}
    items = [video_item(v, **spec[v]) for v in qs["id"].split(",") if v in spec]
    return Response(json.dumps({"items": items}), 200, content_type="application/json")


@pytest.fixture(scope="module")
def collected(world):
    from jobs import collect
    from jobs.sources.youtube import YouTubeSearch
    settings, _ = world
    server = HTTPServer(threaded=True)
    server.start()
    for path in ("/youtube/v3/search", "/youtube/v3/videos"):
        server.expect_request(path, method="GET").respond_with_handler(_youtube)
    before = sweep.keys(settings)
    src = YouTubeSearch("AIzaSy-bad-input-sweep", {"retries": 0, "backoff_s": 0},
                        http=LoopbackHttp(server.url_for("/"), timeout=5), sleep=lambda s: None)
    out = collect.run(settings, ["chemistry"], {"keywords_per_kp": 1}, source=src)
    server.clear()
    server.stop()
    from warehouse import Warehouse
    with Warehouse(settings, read_only=True) as wh:
        videos = {r["video_id"]: r for r in wh.query("SELECT * FROM videos").to_dicts()}
    return out, videos, sweep.quarantine(settings, "collect"), sweep.lost(before, sweep.keys(settings))


@pytest.mark.parametrize("case", list(HOSTILE))
def test_hostile_id_from_search(collected, case):
    out, videos, q, lost = collected
    bad = HOSTILE[case]
    row = q.get(sweep.stored(bad[:200]))
    check(f"collect: {case}", "quarantined (invalid_video_id, detail naming it); never a videos row; run goes on",
          f"{row and row['reason']}: {(row or {}).get('detail', '')[:80]!r}; videos row: {bad in videos}",
          sweep.named(row, "invalid_video_id", repr(bad[:40])[1:-1]) and bad not in videos and GOOD in videos
          and not lost)


@pytest.mark.parametrize("case", list(INELIGIBLE))
def test_ineligible_video(collected, case):
    out, videos, q, lost = collected
    vid, reason = INELIGIBLE[case]
    v, row = videos.get(vid) or {}, q.get(vid)
    check(f"collect: {case}", f"videos row eligible=false ({reason}) and a quarantine row naming the reason",
          f"eligible={v.get('eligible')} {v.get('reject_reason')}; quarantine: {row and row['detail']}",
          v.get("eligible") is False and v.get("reject_reason") == reason and sweep.named(row, reason, vid)
          and videos[GOOD]["eligible"] is True and not lost)


# ---------------------------------------------------------------- frames: hostile paths and ids


@pytest.fixture(scope="module")
def framed(world):
    from jobs import frames
    settings, root = world
    weird = root / "dir with\nnewline"
    weird.mkdir()
    paths = {"vid-nul-path": str(root / "a\x00b.mp4"), "vid-relative-up": "../../../../../../etc/hostname",
             "vid-directory": str(root), "vid-device": "/dev/zero", "vid-newline-dir": str(weird / "x.mp4"),
             "vid\nFORGED LOG LINE\x1b[2J": str(root / "missing.mp4")}
    before = sweep.keys(settings)
    logged = Lines()
    logging.getLogger("videokr.runs").addHandler(logged)
    try:
        out = frames.run(settings, params={"paths": {k: {"path": p, "subject_id": "physics"}
                                                     for k, p in paths.items()}, "workers": 1, "frame_budgets": [8]})
    finally:
        logging.getLogger("videokr.runs").removeHandler(logged)
    return paths, out, sweep.quarantine(settings, "frames"), sweep.lost(before, sweep.keys(settings)), logged.lines


class Lines(logging.Handler):
    def __init__(self):
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record):
        self.lines.append(self.format(record))


FRAMES_CASES = {"path with NUL": "vid-nul-path", "relative path up to /etc": "vid-relative-up",
                "a directory as the path": "vid-directory", "a device as the path (/dev/zero)": "vid-device",
                "path with a newline": "vid-newline-dir",
                "id with newline and escape codes": "vid\nFORGED LOG LINE\x1b[2J"}


@pytest.mark.parametrize("case", list(FRAMES_CASES))
def test_hostile_path_to_frames(framed, case):
    paths, out, q, lost, lines = framed
    vid = FRAMES_CASES[case]
    row = q.get(vid)
    # the log line names the item on one line, control characters escaped (no forged lines, no terminal codes)
    escaped = re.sub(r"[\x00-\x1f]", lambda m: f"\\x{ord(m.group()):02x}", vid)
    logged = [ln for ln in lines if f"quarantined {escaped}: " in ln]
    check(f"frames: {case}", "quarantined with the reason; one escaped log line naming it; the run goes on",
          f"{row and row['reason']}: {(row or {}).get('detail', '')[:70]!r}; log: {logged[:1]!r}"[:160],
          bool(row and row["reason"] and row["detail"]) and out["bad"] == len(paths) and not lost
          and len(logged) == 1 and not any(c in logged[0] for c in "\n\x00\x1b"))
