"""The review page's API against a real warehouse and Airflow's real auth: tokens come from the simple auth manager's
own login route and JWT signer, configured for a temporary AIRFLOW_HOME (metadata DB initialised by `videokr airflow
init`, as the api-server has it: revoked tokens are looked up there)."""
from __future__ import annotations

import io
import os
import subprocess
import sys

import pytest

from tests.unit.frames_media import render_video
from videokr.settings import Settings

PRICES = [{"model": "model-alpha", "price": 1.0}, {"model": "model-beta", "price": 0.5},
          {"model": "model-gamma", "price": 0.1}]
REVIEW = {"reviewer_roles": ["admin", "op"], "steps": {"solving": {"threshold": 0.6, "candidates": PRICES}}}
MODELS = ("model-alpha", "model-beta", "model-gamma")
ITEMS = [f"kp-{i}" for i in range(4)]


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    saved = dict(os.environ)
    for k in [k for k in os.environ if k.startswith(("VIDEOKR_", "AIRFLOW")) and k != "VIDEOKR_SAMPLE_CACHE"]:
        del os.environ[k]
    root = tmp_path_factory.mktemp("review-api")
    settings = Settings(home=root / "home", extra={"review": REVIEW})
    from videokr.cli import airflow_admin, airflow_env
    airflow_env.apply(settings)
    subprocess.run([sys.executable, "-m", "videokr.cli", "airflow", "init"], check=True, capture_output=True,
                   timeout=300)
    import airflow.settings
    airflow.settings.configure_vars()      # this process may have bound Airflow to another home earlier
    airflow.settings.reconfigure_orm()
    try:
        yield settings, airflow_admin.login(settings), root
    finally:
        os.environ.clear()
        os.environ.update(saved)


@pytest.fixture(scope="module")
def world(env):
    """Pilot samples of three models on the same four items, for generation (with a video) and solving (without),
    written through add_samples. The figures test judges solving only, so other tests' verdicts do not reach it."""
    settings, login, root = env
    from jobs.review.samples import add_samples
    from warehouse import Warehouse, stage_run
    video = render_video(root / "clip.mp4", seconds=3.0, fps=10, size=(320, 180))
    rows = [{"step": "generation", "model": m, "item_id": kp, "stratum": "Natural Sciences/basic/mc",
             "input": {"knowledge_point": f"Point {kp}", "captions_excerpt": "the pendulum swings",
                       "video_id": "vid1", "video_path": str(video)},
             "output": {"question": f"What happens in {kp}?", "options": ["A. x", "B. y"], "answer": "A",
                        "rationale": "step 1", "model": m},
             "frame_timestamps": [0.0, 1.0, 2.0], "call_id": f"call-{m}-{kp}"} for m in MODELS for kp in ITEMS]
    rows += [{"step": "solving", "model": m, "item_id": kp, "input": {"question": f"Solve {kp}"},
              "output": {"answer": "B", "rationale": "because"}} for m in MODELS for kp in ITEMS]
    with Warehouse(settings) as wh, stage_run(wh, "review") as run:
        add_samples(wh, run, rows)
    return settings


@pytest.fixture(scope="module")
def client(world):
    from fastapi.testclient import TestClient

    from videokr.review_app import create_app
    with TestClient(create_app(world), base_url="http://testserver") as c:
        yield c


@pytest.fixture(scope="module")
def tokens(env):
    """admin: from the real login route with the password `videokr airflow init` made; others from the same
    auth manager's signer (users of other roles, as the simple auth manager would issue them)."""
    _, login, _ = env
    from fastapi.testclient import TestClient

    from airflow.api_fastapi.auth.managers.simple.user import SimpleAuthManagerUser
    from videokr.review_app.auth import auth_manager
    am = auth_manager()
    with TestClient(am.get_fastapi_app()) as c:
        r = c.post("/token", json={"username": login["user"], "password": login["password"]})
        assert r.status_code == 201, r.text
        out = {"admin": r.json()["access_token"]}
    for name, role in [("olga", "op"), ("vera", "viewer")]:
        out[name] = am.generate_jwt(SimpleAuthManagerUser(username=name, role=role))
    return out


def _h(token: str, csrf: str | None = None) -> dict:
    return {"Authorization": f"Bearer {token}"} | ({"X-CSRF-Token": csrf} if csrf else {})


def _csrf(client, token: str) -> str:
    return client.get("/api/me", headers=_h(token)).json()["csrf_token"]


def _post(client, token, sid, verdict="correct", kind=None, csrf=None, **extra):
    csrf = _csrf(client, token) if csrf is None else csrf
    return client.post("/api/verdicts", headers=_h(token, csrf),
                       json={"sample_id": sid, "verdict": verdict, "kind": kind, **extra})


def test_unauthenticated_requests_get_401(client, tokens):
    for path in ("/api/me", "/api/sample", "/api/steps", "/api/summary", "/api/samples/x/frames/0"):
        assert client.get(path).status_code == 401, path
    assert client.post("/api/verdicts", json={"sample_id": "x", "verdict": "correct"}).status_code == 401
    page = client.get("/")
    assert page.status_code == 401 and "/auth/login" in page.text
    forged = tokens["admin"][:-4] + ("AAAA" if not tokens["admin"].endswith("AAAA") else "BBBB")
    assert client.get("/api/me", headers=_h(forged)).status_code == 401
    assert client.get("/api/me", cookies={"_token": "not-a-jwt"}).status_code == 401


def test_cookie_login_reaches_page_and_hides_models(client, tokens):
    client.cookies.set("_token", tokens["vera"])
    try:
        assert client.get("/").status_code == 200
        r = client.get("/api/sample", params={"step": "generation"})
    finally:
        client.cookies.clear()
    assert r.status_code == 200
    body = r.json()
    assert body["total"] == 12 and body["sample"]["input"]["knowledge_point"].startswith("Point")
    assert not any(m in r.text for m in MODELS) and "call-" not in r.text


def test_viewer_reads_but_gets_403_on_submit(client, tokens):
    me = client.get("/api/me", headers=_h(tokens["vera"])).json()
    assert me == {**me, "user": "vera", "roles": ["viewer"], "can_review": False}
    sid = client.get("/api/sample", headers=_h(tokens["vera"])).json()["sample"]["sample_id"]
    r = _post(client, tokens["vera"], sid)
    assert r.status_code == 403 and "not a reviewer" in r.json()["detail"]


def test_verdict_is_stored_under_the_token_user_never_the_form(client, tokens, world):
    sid = client.get("/api/sample", headers=_h(tokens["olga"]), params={"step": "generation"}).json()["sample"]["sample_id"]
    r = _post(client, tokens["olga"], sid, "error", "wrong_answer", note=" off by one ", reviewer="mallory")
    assert r.status_code == 201, r.text
    from warehouse import Warehouse
    with Warehouse(world, read_only=True) as wh:
        rows = wh.query("SELECT reviewer, verdict, kind, note FROM review_verdicts WHERE sample_id = ?",
                        [sid]).to_dicts()
    assert rows == [{"reviewer": "olga", "verdict": "error", "kind": "wrong_answer", "note": "off by one"}]
    again = client.get("/api/sample", headers=_h(tokens["olga"]), params={"pos": 0, "step": "generation"}).json()
    assert again["verdict"]["kind"] == "wrong_answer" and again["judged"] == 1
    bad = _post(client, tokens["olga"], sid, "error", None)          # an error needs a kind
    assert bad.status_code == 422 and "kind" in bad.json()["detail"]


def test_state_change_without_a_valid_csrf_token_is_refused(client, tokens):
    sid = client.get("/api/sample", headers=_h(tokens["admin"])).json()["sample"]["sample_id"]
    missing = client.post("/api/verdicts", headers=_h(tokens["admin"]), json={"sample_id": sid, "verdict": "correct"})
    assert missing.status_code == 403 and "CSRF" in missing.json()["detail"]
    olgas = _post(client, tokens["admin"], sid, csrf=_csrf(client, tokens["olga"]))      # another user's token
    assert olgas.status_code == 403 and "this user" in olgas.json()["detail"]
    issued, mac = _csrf(client, tokens["admin"]).split(".")
    assert _post(client, tokens["admin"], sid, csrf=f"{int(issued) + 1}.{mac}").status_code == 403
    cross = client.post("/api/verdicts", json={"sample_id": sid, "verdict": "correct"},
                        headers=_h(tokens["admin"], _csrf(client, tokens["admin"])) | {"Origin": "https://evil.test"})
    assert cross.status_code == 403 and "cross-origin" in cross.json()["detail"]
    assert _post(client, tokens["admin"], sid).status_code == 201


def test_each_reviewer_gets_a_stable_shuffle_of_every_sample(client, tokens):
    def order(tok):
        return [client.get("/api/sample", headers=_h(tok), params={"pos": i}).json()["sample"]["sample_id"]
                for i in range(24)]
    a, b = order(tokens["admin"]), order(tokens["olga"])
    assert sorted(a) == sorted(b) and len(set(a)) == 24
    assert a != b and a == order(tokens["admin"])


def test_frames_are_decoded_at_the_stored_instants(client, tokens):
    from PIL import Image
    sid = client.get("/api/sample", headers=_h(tokens["vera"]), params={"step": "generation"}).json()["sample"]["sample_id"]
    thumb = client.get(f"/api/samples/{sid}/frames/2", headers=_h(tokens["vera"]))
    full = client.get(f"/api/samples/{sid}/frames/2", headers=_h(tokens["vera"]), params={"size": "full"})
    assert thumb.headers["content-type"] == "image/jpeg"
    assert Image.open(io.BytesIO(thumb.content)).size == (240, 135)
    assert Image.open(io.BytesIO(full.content)).size == (320, 180)
    assert client.get(f"/api/samples/{sid}/frames/3", headers=_h(tokens["vera"])).status_code == 404


def test_error_rates_wilson_kappa_and_selection(client, tokens):
    """Solving: alpha 0/4 errors, beta 0/4, gamma 2/4 (admin); olga judges three of gamma's samples as well."""
    by_model = _samples_by_model(client)
    for m, errs in (("model-alpha", 0), ("model-beta", 0), ("model-gamma", 2)):
        for i, sid in enumerate(by_model[m]):
            verdict = ("error", "unsupported_step") if i < errs else ("correct", None)
            assert _post(client, tokens["admin"], sid, *verdict).status_code == 201
    for sid in by_model["model-gamma"][:2]:        # olga agrees on two errors and one correct
        assert _post(client, tokens["olga"], sid, "error", "ambiguous").status_code == 201
    assert _post(client, tokens["olga"], by_model["model-gamma"][2], "correct").status_code == 201
    s = client.get("/api/summary", headers=_h(tokens["vera"])).json()["solving"]
    rows = {r["model"]: r for r in s["rows"]}
    assert (rows["model-gamma"]["n"], rows["model-gamma"]["errors"]) == (4, 2)
    assert rows["model-gamma"]["wilson_low"] == pytest.approx(0.1500, abs=5e-4)     # Wilson 2/4: 0.150-0.850
    assert rows["model-gamma"]["wilson_high"] == pytest.approx(0.8500, abs=5e-4)
    assert rows["model-alpha"]["wilson_high"] == pytest.approx(0.4899, abs=5e-4)    # Wilson 0/4: 0-0.490
    assert [m for m, r in rows.items() if r["qualifies"]] == ["model-alpha", "model-beta"]
    assert s["selected"] == "model-beta" and "cheapest" in s["outcome"]             # 0.5 < 1.0 per call
    # three pairs, all agreeing: p_o = 1, p_e = (2/3)^2 + (1/3)^2 = 5/9, so kappa = 1
    assert s["kappa"] == {"pairs": 3, "agreement": 1.0, "kappa": 1.0}
    assert s["threshold"] == 0.6


def _samples_by_model(client) -> dict[str, list[str]]:
    """The test's own view of which sample is which model (the API never says): ids are derived from the item."""
    from jobs.review.samples import sample_id
    return {m: [sample_id("solving", m, kp) for kp in ITEMS] for m in MODELS}


def test_record_writes_model_selection_for_the_step(client, tokens, world):
    from jobs.review import selection
    from warehouse import Warehouse, stage_run
    with Warehouse(world) as wh:
        with stage_run(wh, "review") as run:
            selection.record(wh, run, REVIEW, steps=["solving"])
        got = wh.query("""SELECT model, n, errors, selected, qualifies, price, threshold, kappa, reason
                          FROM model_selection WHERE step = 'solving' ORDER BY model""").to_dicts()
    assert [(g["model"], g["n"], g["errors"], g["selected"]) for g in got] == [
        ("model-alpha", 4, 0, False), ("model-beta", 4, 0, True), ("model-gamma", 4, 2, False)]
    assert [g["price"] for g in got] == [1.0, 0.5, 0.1] and {g["threshold"] for g in got} == {0.6}
    assert got[0]["kappa"] == 1.0 and "step: selected model-beta" in got[2]["reason"]
