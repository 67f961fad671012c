"""`videokr evalset build` on the embedded sample world plus a fetched benchmark: the verify stage's video-dependency
check keeps the items that need the video, the others become re-annotation tasks on the real review app (real
Airflow auth), an expert's rewrite becomes an `reannotated` row and a drop removes it, a rebuild changes nothing and
makes no model call, and the export loads through train/eval_sets.py and evaluates per source benchmark.

Benchmarks: the sample world's originals (items = their scenes' facts, open-ended) and `scivideobench`, a generic
JSONL manifest whose video is fetched by the real yt-dlp from a loopback server (far end only) and shows the scene of
the sample original `sample-bench-0`. The offline stand-in sees a fact through ONE frame only when it is a state on
screen (frames_needed = 1) inside the frame: that is the world's truth the test checks the outcomes against."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from unittest import mock

import pytest

from videokr.settings import Settings

VID = "AAAAAAAAAA1"
FACTS = {"sv-count": "count", "sv-period": "period", "sv-mass": "block_mass"}   # scivideobench item -> fact of bench-0


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    """A home whose config registers scivideobench, an initialised Airflow (tokens), the fetched video."""
    saved = dict(os.environ)
    for k in [k for k in os.environ if k.startswith(("VIDEOKR_", "AIRFLOW")) and k != "VIDEOKR_SAMPLE_CACHE"]:
        del os.environ[k]
    root = tmp_path_factory.mktemp("evalset")
    from jobs.sources.sample.library import build_library
    cache = os.environ.get("VIDEOKR_SAMPLE_CACHE", "")     # the renders every test home shares (conftest.py)
    base = Settings(home=root / "home", sample_cache=cache)
    bench0 = next(b for b in build_library(base).benchmark_videos if b["item_id"] == "sample-bench-0")
    facts = {f["fact_id"]: f for f in bench0["scene"]["facts"]}
    items = [{"id": i, "video_url": f"https://www.youtube.com/watch?v={VID}", "question": facts[f]["question"],
              "question_type": "open-ended", "answer": facts[f]["answer"]} for i, f in FACTS.items()]
    items.append({"id": "sv-bad", "video_url": f"https://youtu.be/{VID}", "question": "What is shown?"})  # no answer
    (root / "sv.jsonl").write_text("".join(json.dumps(i) + "\n" for i in items))
    settings = Settings(home=root / "home", sample_cache=cache, extra={
        "review": {"reviewer_roles": ["admin", "op"]}, "download": {"retries": 1, "retry_sleep": False},
        "benchmarks": {"min_interval_s": 0, "sources": [{"name": "scivideobench", "path": str(root / "sv.jsonl"),
                                                         "url_field": "video_url", "id_field": "id"}]}})
    from videokr.cli import airflow_admin, airflow_env
    airflow_env.apply(settings)
    subprocess.run([sys.executable, "-m", "videokr.cli", "airflow", "init"], check=True, capture_output=True,
                   timeout=300)
    import airflow.settings
    airflow.settings.configure_vars()
    airflow.settings.reconfigure_orm()
    _fetch(settings, Path(bench0["mp4"]).read_bytes())
    from jobs.eval_curation.items import scenes
    from jobs.sources.offline_model import OfflineModel
    model = OfflineModel({**scenes(settings), VID: {**bench0["scene"], "video_id": VID}})   # the fetched copy
    try:
        yield {"settings": settings, "login": airflow_admin.login(settings), "facts": facts, "model": model,
               "root": root}
    finally:
        os.environ.clear()
        os.environ.update(saved)


def _fetch(settings, mp4: bytes) -> None:
    """The fetch stage's real yt-dlp against a loopback server, then the registry into benchmark_items."""
    from yt_dlp.extractor.youtube import YoutubeIE

    from jobs import decontaminate
    from jobs.dedup import fetch
    from tests.range_server import RangeServer
    from warehouse import Warehouse, stage_run
    far = RangeServer({f"/{VID}.mp4": mp4})
    fmt = {"format_id": "18", "url": f"{far.url}/{VID}.mp4", "ext": "mp4", "vcodec": "avc1", "acodec": "mp4a",
           "protocol": "http", "height": 360, "width": 640}
    try:
        with mock.patch.object(YoutubeIE, "_real_extract", lambda ie, url: {"id": VID, "title": VID,
                                                                            "formats": [fmt]}):
            out = fetch.run(settings, params={"fetch": True, "benchmark": "scivideobench"})
    finally:
        far.close()
    assert out["fetched"] == 1, out
    with Warehouse(settings) as wh, stage_run(wh, "decontaminate") as run:
        decontaminate.load_registry(settings, run, {})


def _build(env) -> dict:
    from jobs import evalset
    return evalset.run(env["settings"], offline_model=env["model"])


def _q(env, sql: str, args=None) -> list[dict]:
    from warehouse import Warehouse
    with Warehouse(env["settings"]) as wh:
        return wh.query(sql, args).to_dicts()


@pytest.fixture(scope="module")
def first(env):
    return _build(env)


@pytest.fixture(scope="module")
def client(env, first):
    from fastapi.testclient import TestClient

    from videokr.review_app import create_app
    with TestClient(create_app(env["settings"]), base_url="http://testserver") as c:
        yield c


@pytest.fixture(scope="module")
def tokens(env):
    from fastapi.testclient import TestClient

    from airflow.api_fastapi.auth.managers.simple.user import SimpleAuthManagerUser
    from videokr.review_app.auth import auth_manager
    am = auth_manager()
    with TestClient(am.get_fastapi_app()) as c:
        r = c.post("/token", json={"username": env["login"]["user"], "password": env["login"]["password"]})
        assert r.status_code == 201, r.text
    return {"admin": r.json()["access_token"],
            "vera": am.generate_jwt(SimpleAuthManagerUser(username="vera", role="viewer"))}


def _h(client, token: str, csrf: bool = False) -> dict:
    h = {"Authorization": f"Bearer {token}"}
    return h | ({"X-CSRF-Token": client.get("/api/me", headers=h).json()["csrf_token"]} if csrf else {})


def _needs_one_frame(fact: dict, times: list[float]) -> bool:
    """The world's truth: is the fact on screen in one of these single frames (a state, not a change)?"""
    return fact["frames_needed"] == 1 and any(a <= t <= b for t in times for a, b in fact["evidence"])


def test_vd_check_keeps_video_items_and_sends_the_others_to_review(env, first, client, tokens):
    cands = {r["item_id"]: r for r in _q(env, "SELECT * FROM eval_candidates")}
    assert {i for i in cands if i.startswith("scivideobench/")} == {f"scivideobench/{i}" for i in FACTS}
    assert sum(i.startswith("sample/") for i in cands) == 7 and first["calls"] > 0
    for item_id, c in cands.items():
        d = json.loads(c["vd_details"])
        times = [t for _, t in d["frames"]]
        fact = env["facts"][FACTS[item_id.split("/")[1]]] if item_id.startswith("scivideobench/") else None
        if fact is not None:                   # vd passed <=> no single frame shows the answer
            assert c["vd_passed"] is (not _needs_one_frame(fact, times)), (item_id, times)
    failed = {i for i, c in cands.items() if c["vd_passed"] is False}
    assert "scivideobench/sv-mass" in failed and "sample/sample-bench-0/block_mass" in failed
    kept = {r["item_id"]: r for r in _q(env, "SELECT * FROM eval_items")}
    assert set(kept) == set(cands) - failed and {r["origin"] for r in kept.values()} == {"kept"}
    q = _q(env, "SELECT item, reason, detail FROM quarantine WHERE stage = 'evalset'")
    assert q == [{"item": "scivideobench/sv-bad", "reason": "eval_item_unusable", "detail": "no answer"}]

    tasks = client.get("/api/reannotation/tasks", headers=_h(client, tokens["vera"])).json()
    assert {t["item_id"] for t in tasks["tasks"]} == failed and tasks["pending"] == len(failed)
    t = next(t for t in tasks["tasks"] if t["item_id"] == "scivideobench/sv-mass")
    assert t["original"]["answer"] == "0.40 kg" and t["why"]["blind_correct"] >= 1
    one = client.get(f"/api/reannotation/tasks/{t['task_id']}", headers=_h(client, tokens["vera"])).json()
    img = client.get(f"/api/reannotation/tasks/{t['task_id']}/frames/0", headers=_h(client, tokens["vera"]))
    assert one["frames"] and img.status_code == 200 and img.content[:2] == b"\xff\xd8"
    assert client.get("/api/reannotation/tasks").status_code == 401
    assert client.get("/reannotate", headers=_h(client, tokens["vera"])).status_code == 200


def test_expert_rewrite_becomes_reannotated_row_and_drop_removes_it(env, first, client, tokens):
    tid = {t["item_id"]: t["task_id"] for t in
           client.get("/api/reannotation/tasks", headers=_h(client, tokens["admin"])).json()["tasks"]}
    sv, sample = tid["scivideobench/sv-mass"], tid["sample/sample-bench-0/block_mass"]
    rewrite = {"task_id": sv, "action": "rewrite", "problem_type": "multiple choice", "reviewer": "mallory",
               "question": "How many oscillations are there between the two clock marks?",
               "options": ["12", "13", "14", "15"], "answer": "C"}
    r = client.post("/api/reannotations", headers=_h(client, tokens["vera"], csrf=True), json=rewrite)
    assert r.status_code == 403                                    # a viewer reads, never submits
    assert client.post("/api/reannotations", headers=_h(client, tokens["admin"]), json=rewrite).status_code == 403
    bad = client.post("/api/reannotations", headers=_h(client, tokens["admin"], csrf=True),
                      json=rewrite | {"answer": "E"})
    assert bad.status_code == 422 and "letter of an option" in bad.json()["detail"]
    ok = client.post("/api/reannotations", headers=_h(client, tokens["admin"], csrf=True), json=rewrite)
    assert ok.status_code == 201 and ok.json()["reviewer"] == env["login"]["user"] != "mallory"
    drop = {"task_id": sample, "action": "drop", "note": "the block label is the whole question"}
    assert client.post("/api/reannotations", headers=_h(client, tokens["admin"], csrf=True),
                       json=drop).status_code == 201

    out = _build(env)
    assert out["calls"] == 0 and out["checked"] == 0
    rows = {r["item_id"]: r for r in _q(env, "SELECT * FROM eval_items")}
    new = rows["scivideobench/sv-mass"]
    assert (new["origin"], new["answer"], new["annotated_by"]) == ("reannotated", "C", env["login"]["user"])
    assert new["options"] == ["A. 12", "B. 13", "C. 14", "D. 15"] and new["original_question"].startswith("What mass")
    assert "sample/sample-bench-0/block_mass" not in rows
    assert client.post("/api/reannotations", headers=_h(client, tokens["admin"], csrf=True),
                       json={"task_id": sv, "action": "drop"}).status_code == 201
    _build(env)
    assert "scivideobench/sv-mass" not in {r["item_id"] for r in _q(env, "SELECT item_id FROM eval_items")}
    status = {t["item_id"]: t["status"] for t in
              client.get("/api/reannotation/tasks", headers=_h(client, tokens["admin"])).json()["tasks"]}
    assert status == {"scivideobench/sv-mass": "drop", "sample/sample-bench-0/block_mass": "drop"}
    # back to a rewrite for the tests below
    assert client.post("/api/reannotations", headers=_h(client, tokens["admin"], csrf=True),
                       json=rewrite).status_code == 201


def test_export_loads_and_evaluation_splits_per_source_benchmark(env, first):
    from train.eval_sets import load_eval_set
    from train.evaluate import evaluate, record
    from train.tiny import build_tiny
    out = _build(env)
    path = out["export"]["path"]
    items = load_eval_set(path)
    assert {i.dataset for i in items} == {"evalset/sample", "evalset/scivideobench"}
    by_id = {i.item_id: i for i in items}
    assert by_id["scivideobench/sv-mass"].answer == "C" and by_id["scivideobench/sv-mass"].options[2] == "C. 14"
    assert len(items) == len(_q(env, "SELECT * FROM eval_items")) and all(Path(i.video_path).is_file() for i in items)
    model = build_tiny("qwen2_5_vl", env["root"] / "model")
    res = evaluate(str(model), [path], frames=(2,), max_new_tokens=1, batch_size=16, max_video_tokens=64)
    overall = {r["dataset"]: r for r in res["rows"] if r["group_by"] == "overall"}
    per = {b: sum(i.dataset == f"evalset/{b}" for i in items) for b in ("sample", "scivideobench")}
    assert {d: r["n"] for d, r in overall.items()} == {f"evalset/{b}": n for b, n in per.items()}
    from warehouse import Warehouse
    with Warehouse(env["settings"]) as wh:
        record(res, wh=wh)
    stored = _q(env, "SELECT dataset, snapshot_id FROM eval_results WHERE group_by = 'overall' ORDER BY dataset")
    assert stored == [{"dataset": f"evalset/{b}", "snapshot_id": out["export"]["snapshot_id"]}
                      for b in ("sample", "scivideobench")]


def test_rebuild_is_idempotent_and_pays_no_model_call(env, first):
    from warehouse import Warehouse
    calls = _q(env, "SELECT count(*) AS n FROM llm_calls")[0]["n"]    # after the builds of the tests above
    with Warehouse(env["settings"]) as wh:
        snap = wh.data_snapshot(["eval_items", "eval_candidates"])
    again = _build(env)
    assert (again["changed"], again["calls"], again["checked"]) == (False, 0, 0)
    assert again["skipped"] == again["items"] and again["export"]["written"] is False
    assert _q(env, "SELECT count(*) AS n FROM llm_calls")[0]["n"] == calls
    with Warehouse(env["settings"]) as wh:
        assert wh.data_snapshot(["eval_items", "eval_candidates"]) == snap
