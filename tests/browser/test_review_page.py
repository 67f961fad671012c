"""The review page in the real Airflow UI (headless Debian Chromium): log in, open it from the Browse menu, judge a
pilot's samples with the keyboard as an honest expert (against the reference answer, never the model, which the page
hides), and read the error rates and the selection. Screenshots go to test-artifacts/."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.browser.test_airflow_ui import ARTIFACTS, page  # noqa: F401  (fixture: logged-in page)
from tests.e2e.airflow_fixture import airflow_server  # noqa: F401  (fixture)
from tests.unit.frames_media import render_video

pytestmark = pytest.mark.slow
MODELS = {"model-alpha": 1.0, "model-beta": 0.5, "model-gamma": 0.1}   # price per call
WRONG = {("model-gamma", "kp-0"), ("model-gamma", "kp-1")}            # outputs that contradict the reference
ITEMS = [f"kp-{i}" for i in range(4)]


def airflow_extra_env(root: Path) -> dict:
    """The `[review]` table the plugin reads inside the api-server (see tests/e2e/airflow_fixture.py)."""
    cands = ", ".join(f'{{model = "{m}", price = {p}}}' for m, p in MODELS.items())
    cfg = root / "videokr.toml"
    cfg.write_text(f'[review]\nreviewer_roles = ["admin", "op"]\n\n[review.steps.solving]\nthreshold = 0.6\n'
                   f"candidates = [{cands}]\n")
    return {"VIDEOKR_CONFIG": str(cfg)}


@pytest.fixture(scope="module")
def pilot(airflow_server):  # noqa: F811
    """A pilot's samples in the served warehouse, written through add_samples."""
    from jobs.review.samples import add_samples
    from videokr.settings import Settings
    from warehouse import Warehouse, stage_run
    settings = Settings.load()
    video = render_video(settings.home / "clip.mp4", seconds=3.0, fps=10, size=(320, 180))
    rows = [{"step": "solving", "model": m, "item_id": kp, "stratum": "Natural Sciences/basic/mc",
             "input": {"knowledge_point": f"Pendulum period ({kp})", "question": "What sets the period?",
                       "options": ["A. the length", "B. the mass"], "reference_answer": "A",
                       "captions_excerpt": "a longer string swings more slowly", "video_path": str(video)},
             "output": {"answer": "B" if (m, kp) in WRONG else "A", "rationale": "The frames show the swing."},
             "frame_timestamps": [0.5, 1.5, 2.5]} for m in MODELS for kp in ITEMS]
    with Warehouse(settings) as wh, stage_run(wh, "review") as run:
        add_samples(wh, run, rows)
    return settings


def _frame(pg):
    return pg.frame_locator("iframe[title=Review]")


def test_open_from_nav_and_judge_with_keyboard(pilot, page):  # noqa: F811
    server, pg = page
    pg.goto(server.url + "/", wait_until="networkidle")
    pg.get_by_role("button", name="Browse").click()
    pg.get_by_role("menuitem", name="Review").click()
    pg.wait_for_url(re.compile(r"/plugin/review"), timeout=30_000)
    fr = _frame(pg)
    fr.locator("#progress").filter(has_text="1 of 12").wait_for(timeout=60_000)
    fr.locator("#frames img").first.wait_for()
    pg.wait_for_function("""() => { const f = document.querySelector('iframe[title=Review]');
        const imgs = [...f.contentDocument.querySelectorAll('#frames img')];
        return imgs.length === 3 && imgs.every(i => i.complete && i.naturalWidth > 0); }""", timeout=30_000)
    fr.locator("#frames img").first.click()
    fr.locator("#lightbox").wait_for(state="visible")
    pg.screenshot(path=str(ARTIFACTS / "review_frame_enlarged.png"))
    pg.keyboard.press("Escape")
    fr.locator("#lightbox").wait_for(state="hidden")
    assert not any(m in fr.locator("body").inner_text() for m in MODELS)      # model names hidden
    pg.screenshot(path=str(ARTIFACTS / "review_sample.png"), full_page=True)

    for i in range(12):
        fr.locator("#progress").filter(has_text=f"{i} judged").wait_for(timeout=30_000)
        answer = fr.locator("#output dd[data-field=answer]").inner_text().strip()
        reference = fr.locator("#input dd[data-field=reference_answer]").inner_text().strip()
        if i == 0:                               # a note through the keyboard: n, type, Esc, then the verdict
            pg.keyboard.press("n")
            pg.keyboard.type("checked against the reference")
            pg.keyboard.press("Escape")
        pg.keyboard.press("1" if answer == reference else "2")
    fr.locator("#message").filter(has_text="All 12 samples").wait_for(timeout=30_000)

    from warehouse import Warehouse
    with Warehouse(pilot, read_only=True) as wh:
        got = wh.query("""SELECT s.model, s.item_id, v.reviewer, v.verdict, v.kind, v.note FROM review_verdicts v
                          JOIN review_samples s USING (sample_id)""").to_dicts()
    assert len(got) == 12 and {g["reviewer"] for g in got} == {"admin"}
    assert {(g["model"], g["item_id"]) for g in got if g["verdict"] == "error"} == WRONG
    assert {g["kind"] for g in got if g["verdict"] == "error"} == {"wrong_answer"}
    assert [g["note"] for g in got if g["note"]] == ["checked against the reference"]


def test_summary_shows_error_rates_and_the_selection(pilot, page):  # noqa: F811
    server, pg = page
    fr = _frame(pg)
    fr.locator("#content").click()
    pg.keyboard.press("s")
    section = fr.locator("section[data-step=solving]")
    section.wait_for(timeout=30_000)
    assert fr.locator("#judge").is_hidden()
    assert "selected model-beta" in section.locator(".outcome").inner_text()
    gamma = section.locator("tr[data-model=model-gamma]").inner_text()
    assert "0.500" in gamma and "0.150 – 0.850" in gamma                 # 2 of 4: Wilson 0.150-0.850
    assert "selected" in section.locator("tr.selected").inner_text()
    assert section.locator("tr.selected").get_attribute("data-model") == "model-beta"
    pg.screenshot(path=str(ARTIFACTS / "review_summary.png"), full_page=True)


def test_mounted_plugin_checks_the_token_itself(airflow_server):  # noqa: F811
    """In the real api-server too: no token, 401; Airflow's own REST token, the user it names."""
    import httpx
    server, api = airflow_server
    assert httpx.get(f"{server.url}/review/api/summary", timeout=30).status_code == 401
    assert httpx.post(f"{server.url}/review/api/verdicts", json={"sample_id": "x", "verdict": "correct"},
                      timeout=30).status_code == 401
    me = httpx.get(f"{server.url}/review/api/me", headers=api.client.headers, timeout=30)
    assert me.status_code == 200 and me.json()["user"] == server.login["user"] and me.json()["can_review"]
