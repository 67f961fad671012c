"""The review DAG through the real scheduler: pilots of the embedded pool, an honest expert judging on the review
page's API, approval over Airflow's REST (HITL), then `generate` runs on the approved model (the ledger shows it)."""
from __future__ import annotations

import os
import re
import time

import httpx
import pytest

from tests.e2e.airflow_fixture import airflow_server  # noqa: F401  (fixture)

pytestmark = pytest.mark.slow
SUBJECT = "physics"
SIZE = 16
CFG = "videokr-review-e2e.toml"


def airflow_extra_env(root):
    (root / CFG).write_text(f"[review]\nsample_size = {SIZE}\nthreshold = 0.5\n")
    return {"VIDEOKR_CONFIG": str(root / CFG), "VIDEOKR_REVIEW_POKE_S": "3"}


def _norm(text) -> str:
    return " ".join(re.sub(r"[^0-9a-z]+", " ", str(text).lower()).split())


def honest(scene: dict, out: dict) -> str | None:
    """The expert: None when the item is right by the scene's facts, else the error kind. Judged from the world's
    content only (the fact's answer and steps), never from which model wrote it or its configured quality."""
    from jobs.sources.offline_model import option_text, split_steps
    fact = next((f for f in scene.get("facts", []) if _norm(f["question"]) == _norm(out.get("question", ""))), None)
    if fact is None:
        return "other"
    answer = out.get("answer", "")
    if out.get("options"):
        answer = option_text(next((o for o in out["options"] if o.startswith(answer + ".")), ""))
    if _norm(answer) != _norm(fact["answer"]):
        return "wrong_answer"
    true_steps = {_norm(s["text"]) for s in fact["steps"] if s.get("basis") in ("video", "knowledge")
                  and not s.get("planted")}
    if fact.get("flaw") == "ungrounded_step" or any(_norm(s) not in true_steps for s in split_steps(out["think"])):
        return "unsupported_step"
    return "ambiguous" if fact.get("flaw") == "ambiguous" else None


def _wait(pred, timeout: float, what: str):
    deadline = time.time() + timeout
    while time.time() < deadline:
        got = pred()
        if got:
            return got
        time.sleep(3)
    raise TimeoutError(what)


def test_pilots_verdicts_approval_then_generate_uses_the_best_model(airflow_server):
    server, api = airflow_server
    from jobs.review.selection import wilson
    from jobs.sources.sample.library import build_library
    from jobs.stages import job
    from videokr.settings import Settings
    from warehouse import Warehouse
    settings = Settings.load()
    lib = build_library(settings)
    for stage in ("knowledge_bank", "collect", "screen"):          # the inputs the pilots sample
        job(stage).run(settings, subjects=[SUBJECT])
    api.wait_for_dags(["review", "generate"])
    api.unpause("review")
    n = len(api.runs("review"))
    run_id = api.trigger("review", {"subjects": [SUBJECT], "steps": ["qa_generation"]})

    # the expert judges every sample on the review page's API (Airflow token; CSRF header from /api/me)
    token = api.client.headers["Authorization"]
    page = httpx.Client(base_url=f"{server.url}/review", headers={"Authorization": token}, timeout=60)
    _wait(lambda: page.get("/api/steps").json(), 900, "no pilot samples")
    csrf = page.get("/api/me").json()["csrf_token"]
    while True:
        d = page.get("/api/sample", params={"step": "qa_generation"}).json()
        if d["sample"] is None or d.get("done") or d["judged"] >= d["total"]:
            break
        s = d["sample"]
        kind = honest(lib.by_id(s["video_id"]).scene, s["output"])
        r = page.post("/api/verdicts", headers={"X-CSRF-Token": csrf},
                      json={"sample_id": s["sample_id"], "verdict": "error" if kind else "correct", "kind": kind})
        assert r.status_code in (200, 201), r.text
    with Warehouse(settings, read_only=True) as wh:
        per = wh.query("""SELECT s.model, count(*) n, count(*) FILTER (WHERE v.verdict = 'error') e
                          FROM review_samples s JOIN review_verdicts v USING (sample_id)
                          WHERE s.step = 'qa_generation' GROUP BY s.model ORDER BY e, s.model""").to_dicts()
    assert [r["n"] for r in per] == [SIZE] * 3, per
    best, runner_up = per[0], per[1]
    assert best["e"] < runner_up["e"], f"the sample does not tell the models apart: {per}"
    # the lead's threshold for this pilot: between the best model's 95% upper bound and the next one's
    t = (wilson(best["e"], SIZE)[1] + wilson(runner_up["e"], SIZE)[1]) / 2
    with open(os.environ["VIDEOKR_CONFIG"], "w") as f:        # decide reads it when it runs
        f.write(f"[review]\nsample_size = {SIZE}\nthreshold = {t:.4f}\n")

    # approve over REST once the gate asks (its body carries the figures)
    hitl = f"/dags/review/dagRuns/{run_id}/taskInstances/approve_qa_generation.approve/-1/hitlDetails"

    def asked():
        try:
            return api.get(hitl)
        except httpx.HTTPStatusError:
            return None
    detail = _wait(asked, 600, "the approval was never asked")
    assert best["model"] in detail["body"] and "Wilson" in detail["body"]
    api.client.patch(f"/dags/review/dagRuns/{run_id}/taskInstances/approve_qa_generation.approve/-1/hitlDetails",
                     json={"chosen_options": ["Approve"]}).raise_for_status()
    assert api.wait_run("review", n, timeout=600)["state"] == "success"
    with Warehouse(settings, read_only=True) as wh:
        sel = wh.query("SELECT model, approved, approved_by FROM model_selection WHERE step = 'qa_generation' "
                       "AND selected").to_dicts()
    assert sel == [{"model": best["model"], "approved": True, "approved_by": server.login["user"]}]

    api.unpause("generate")
    g = len(api.runs("generate"))
    api.trigger("generate", {"subjects": [SUBJECT]})
    assert api.wait_run("generate", g, timeout=900)["state"] == "success"
    with Warehouse(settings, read_only=True) as wh:
        models = wh.query("""SELECT DISTINCT l.model FROM llm_calls l JOIN runs r USING (run_id)
                             WHERE r.stage = 'generate' AND l.task = 'generate_qa'""")["model"].to_list()
        cands = wh.query("SELECT DISTINCT model FROM candidates WHERE subject_id = ?", [SUBJECT])["model"].to_list()
    assert models == [best["model"]] and cands == [best["model"]]
