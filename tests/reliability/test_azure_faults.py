"""30% injected faults on Azure AI Content Safety (azure-ai-contentsafety, a loopback server): screen's moderate phase.

The run completes; every HTTP attempt is in `api_usage` (source azure); every video whose moderation could not be
made is quarantined (and stays pending); a rerun sends no request that was answered successfully before (a check
that failed part-way keeps its text verdict and the frames already judged).
"""
from __future__ import annotations

import json

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from tests.reliability.faults import Faults
from tests.reliability.table import check, scale
from tests.unit.frames_media import render_video

KEY = "azure-reliability-sentinel-key"
SEED = 777


def good(request: Request) -> Response:
    cats = [{"category": c, "severity": 0} for c in ("Hate", "SelfHarm", "Sexual", "Violence")]
    body = json.loads(request.get_data())
    if "text" in body and "violent" in body["text"]:
        cats[3]["severity"] = 6
    return Response(json.dumps({"blocklistsMatch": [], "categoriesAnalysis": cats}), 200,
                    content_type="application/json")


@pytest.fixture
def azure(tmp_path, monkeypatch):
    server = HTTPServer(threaded=True)
    server.start()
    faults = Faults(SEED, rate=0.3, hang_s=1.2, retry_after="0")
    for path in ("/contentsafety/text:analyze", "/contentsafety/image:analyze"):
        server.expect_request(path, method="POST").respond_with_handler(faults.wrap(good))
    cfg = tmp_path / "videokr.toml"
    cfg.write_text('moderation_source = "azure"\n[moderation]\nretries = 1\nretry_backoff_s = 0.01\n'
                   'timeout_s = 0.6\nconnect_timeout_s = 1\nframes_moderation = 2\n'
                   '[screen]\nframes_moderation = 2\n')
    monkeypatch.setenv("VIDEOKR_CONFIG", str(cfg))
    monkeypatch.setenv("VIDEOKR_AZURE_CONTENT_SAFETY_ENDPOINT", server.url_for("").rstrip("/"))
    monkeypatch.setenv("VIDEOKR_AZURE_CONTENT_SAFETY_KEY", KEY)
    yield faults
    server.clear()
    server.stop()


def seed_media(wh, root, n: int) -> None:
    clip = render_video(root / "clip.mp4", seconds=2.0, fps=8, size=(96, 64))
    vids = [(f"az{i:09d}", "physics") for i in range(n)]
    wh.write("knowledge_points", [{"kp_id": "kp-0", "subject_id": "physics", "name": "Pendulum", "statement": "s",
                                   "keywords": ["pendulum"]}], "seed")
    wh.write("videos", [{"video_id": v, "subject_id": s, "kp_id": "kp-0", "eligible": True,
                         "title": f"Lecture {i}" + (" violent" if i % 5 == 4 else ""), "description": "a lecture"}
                        for i, (v, s) in enumerate(vids)], "seed")
    wh.write("downloads", [{"video_id": v, "subject_id": s, "path": str(clip), "status": "ok"} for v, s in vids], "seed")
    wh.write("screening_checks", [{"video_id": v, "check_name": "media", "subject_id": s, "kp_id": "kp-0",
                                   "passed": True, "detail": "{}"} for v, s in vids], "seed")


def test_azure_30pct_faults_moderation(tmp_path, home, azure):
    from jobs import screen
    from videokr.settings import Settings
    from warehouse import Warehouse
    faults = azure
    settings = Settings.load()
    with Warehouse(settings) as wh:
        seed_media(wh, tmp_path, scale(12, 60))
    screen.run(settings, params={"phase": "moderate"})
    served = len(faults.log)
    with Warehouse(settings, read_only=True) as wh:
        runs = wh.query("SELECT status FROM runs WHERE stage = 'screen'").rows()
        ledger = wh.query("SELECT count(*) FROM api_usage WHERE source = 'azure'").item()
        unchecked = set(wh.query("SELECT video_id FROM screening_checks WHERE check_name = 'moderation' "
                                 "AND passed IS NULL")["video_id"].to_list())
        q = {r["item"]: r["detail"] for r in wh.query("SELECT item, detail FROM quarantine "
                                                      "WHERE reason = 'moderation_failed'").to_dicts()}
    check("Azure 30% faults: run completes", "screen run 'success'", runs, runs == [("success",)])
    check("Azure 30% faults: every attempt in api_usage", f"{served} rows (one per HTTP attempt)", ledger,
          ledger == served and served > 0)
    check("Azure 30% faults: failed items quarantined", "every unchecked video quarantined with the error",
          f"{len(unchecked)} unchecked, {len(set(q) & unchecked)} quarantined",
          unchecked and unchecked <= set(q) and all(q[v] for v in unchecked))

    ok_before = faults.ok_requests()
    failed_before = {h for k, h in faults.log if k != "ok"}
    screen.run(settings, params={"phase": "moderate"})
    rerun = faults.log[served:]
    repeated = [h for _, h in rerun if h in ok_before and h not in failed_before]
    with Warehouse(settings, read_only=True) as wh:
        ledger = wh.query("SELECT count(*) FROM api_usage WHERE source = 'azure'").item()
    check("Azure rerun: no successful call repeated", "0 rerun requests answered OK before",
          f"{len(rerun)} rerun requests, {len(repeated)} repeated", rerun and not repeated)
    check("Azure rerun: every attempt in api_usage", f"{len(faults.log)} rows", ledger, ledger == len(faults.log))
