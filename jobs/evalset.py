"""Evaluation set, curated as the VideoKR paper did (`videokr evalset build`): keep the benchmark items that need the
video, have experts re-annotate the others.

1. Inputs: benchmark items whose video is on disk (jobs/eval_curation/items.py: `benchmark_items` x fetched
   `benchmark_videos`; in the embedded sample world, its benchmark-like originals).
2. The video-dependency check of the verify stage, the same code (jobs/verify.py `verify_chunk` with
   checks=("video_dependency",), jobs/verification/checks.py): n blind tries, each with the question, the page text
   and ONE frame; an item fails when m tries (multiple choice; open-ended: one) answer it. Its params are verify's
   (`[verify]`), overridable in `[evalset]` or params: n, m, frame_choice, temperature, oe_extra_words, early_exit,
   attach_frames, n_frames, chunk_videos. Outcomes go to `eval_candidates`, committed per chunk with the items'
   fingerprints (item text, video file, captions, the blind solver's model, prompt, params): a rebuild checks only
   what changed, so an unchanged rebuild makes no model call. A check whose calls failed is quarantined and retried.
3. Failed items are re-annotation tasks on the review page (/review/reannotate, jobs/review/reannotation.py): an
   expert writes a question grounded in the video (question, options, answer) or drops the item.
4. `eval_items` (sql/queries/evalset_items.sql): kept items plus rewrites (origin reannotated); a drop or a pending
   task leaves the item out. Each build's version is a DuckLake snapshot, exported once as JSONL
   (jobs/eval_curation/export.py) that train/evaluate.py reads, reporting per source benchmark.
(The paper kept 1,254 original items and added 746 re-annotated ones.)
"""
from __future__ import annotations

import json
import logging
from pathlib import Path

from jobs import verify
from jobs.eval_curation import export as exporter
from jobs.eval_curation.items import fetched_items, scenes
from videokr.settings import SQL_DIR, Settings
from warehouse import Warehouse, stage_run
from warehouse.runs import fingerprint

log = logging.getLogger("videokr.evalset")

STAGE = "evalset"
CHECK = ("video_dependency",)
VD_PARAMS = ("n", "m", "frame_choice", "temperature", "oe_extra_words", "early_exit")
ITEM_KEYS = ("item_id", "problem_type", "question", "options", "answer", "subject", "video_id", "path", "duration_s",
             "title", "description")


def params_of(settings: Settings, params: dict | None) -> dict:
    p = {**verify.DEFAULTS, **settings.section("verify"), **settings.section("evalset"),
         **{k: v for k, v in (params or {}).items() if v is not None}}
    for key in ("k", "n", "m", "chunk_videos"):
        p[key] = int(p[key])
    p["early_exit"] = str(p["early_exit"]).strip().lower() not in ("false", "0", "no", "off", "")
    if not 1 <= p["m"] <= p["n"]:
        raise ValueError(f"evalset: need 1 <= m <= n for the video-dependency check; got n={p['n']}, m={p['m']}")
    return p


def _file_id(path: str) -> list:
    st = Path(path).stat()
    return [st.st_size, st.st_mtime_ns]


def changed(run, layer, items: list[dict], cues: dict, prompt, p: dict, attach: bool, n_frames: int) -> list[dict]:
    """Items whose inputs changed since their outcome was committed (all of them on a first build)."""
    be = layer.backend("blind_solver")
    fixed = {"model": f"{be.kind}:{be.model}", "prompt": prompt.id, "attach": attach, "n_frames": n_frames,
             **{k: p[k] for k in VD_PARAMS}}
    for it in items:
        it["_fp"] = fingerprint({k: it.get(k) for k in ITEM_KEYS}, _file_id(it["path"]),
                                cues.get(it["video_id"], []), fixed)
    have = run.fingerprints([it["item_id"] for it in items])
    todo = [it for it in items if have.get(it["item_id"]) != it["_fp"]]
    run.skipped = len(items) - len(todo)
    return todo


def candidate_rows(items: list[dict], checks: list[dict]) -> list[dict]:
    by_id = {r["candidate_id"]: r for r in checks}
    out = []
    for it in items:
        r = by_id.get(it["item_id"], {})
        out.append({k: it.get(k) for k in ("item_id", "task_id", "source_benchmark", "source_item_id",
                                           "problem_type", "question", "options", "answer", "subject", "video_id",
                                           "video_path", "duration_s")}
                   | {"vd_passed": r.get("passed"), "vd_score": r.get("score"), "vd_details": r.get("details"),
                      "vd_model": r.get("model"), "vd_call_id": r.get("call_id")})
    return out


def check_chunks(run, layer, prompts, todo: list[dict], cues: dict, p: dict, attach: bool, n_frames: int) -> int:
    """Run the video-dependency check on `todo`, a chunk of videos per commit; returns the calls made."""
    by_video: dict[str, list[dict]] = {}
    for it in todo:
        by_video.setdefault(it["video_id"], []).append(it)
    vids, calls = list(by_video), 0
    for i in range(0, len(vids), p["chunk_videos"]):
        chunk = {v: by_video[v] for v in vids[i:i + p["chunk_videos"]]}
        with run.chunk():       # outcomes, ledger, quarantine rows and fingerprints of the chunk: one commit
            rows, n = verify.verify_chunk(run, layer, prompts, chunk, cues, p, attach, n_frames, checks=CHECK)
            alive = [it for its in chunk.values() for it in its]      # verify_chunk drops unreadable videos
            run.write("eval_candidates", candidate_rows(alive, rows), scope={"item_id": [it["item_id"]
                                                                                      for it in alive]})
            undecided = {r["candidate_id"] for r in rows if r["passed"] is None}
            for r in rows:
                if r["passed"] is None:
                    run.quarantine(r["candidate_id"], "video_dependency_failed",
                                   json.loads(r["details"]).get("error", ""))
            run.mark_done({it["item_id"]: (it["_fp"], it["source_benchmark"]) for it in alive
                           if it["item_id"] not in undecided})
            layer.flush()
        calls += n
        log.info("evalset: %d/%d videos checked", min(i + p["chunk_videos"], len(vids)), len(vids))
    return calls


def compose(wh, run) -> list[dict]:
    """Write eval_items from eval_candidates and the experts' answers; returns the rows."""
    items = wh.query((SQL_DIR / "queries" / "evalset_items.sql").read_text()).to_dicts()
    benches = set(wh.query("SELECT DISTINCT source_benchmark FROM eval_items UNION "
                           "SELECT DISTINCT source_benchmark FROM eval_candidates")["source_benchmark"].to_list())
    if benches:
        run.write("eval_items", items, scope={"source_benchmark": sorted(b for b in benches if b is not None)})
    return items


def run(settings: Settings | None = None, params: dict | None = None, offline_model=None) -> dict:
    """Build the evaluation set. `offline_model`: a ChatModel for offline roles (default in the sample world: the
    offline stand-in over every sample scene, the benchmark originals included)."""
    from jobs.llm import ModelLayer
    from jobs.prompts import load_prompt
    settings = settings or Settings.load()
    p = params_of(settings, params)
    out_dir = Path(p.get("out") or Path(settings.home) / "exports")
    with Warehouse(settings) as wh, stage_run(wh, STAGE, {}, {k: v for k, v in p.items() if k != "k"}) as r:
        items, cues, bad = fetched_items(wh, settings)
        known = {(q["item"], q["reason"], q["detail"]) for q in wh.query(
            "SELECT item, reason, detail FROM quarantine WHERE stage = ?", [STAGE]).to_dicts()}
        for item, reason, detail in bad:          # named with the reason; the build goes on without them
            if (item, reason, detail[:2000]) not in known:    # a rebuild leaves an unchanged record alone
                r.quarantine(item, reason, detail)
        if offline_model is None and settings.search_source == "sample":
            from jobs.sources.offline_model import OfflineModel
            offline_model = OfflineModel(scenes(settings))
        layer = ModelLayer(settings, r, r.run_id, offline_model=offline_model)
        prompts = {"solve": load_prompt("solve", settings=settings)}
        attach = p["attach_frames"]
        if attach is None:
            attach = layer.cfg.role("blind_solver").backend != "offline"
        n_frames = int(p["n_frames"] or layer.cfg.frames["count"])
        todo = changed(r, layer, items, cues, prompts["solve"], p, attach, n_frames)
        log.info("evalset: %d fetched benchmark items, %d unchanged (skipped), %d to check", len(items),
                 r.skipped, len(todo))
        calls = check_chunks(r, layer, prompts, todo, cues, p, attach, n_frames) if todo else 0
        have = set(wh.query("SELECT item_id FROM eval_candidates")["item_id"].to_list())
        r.forget(sorted(have - {it["item_id"] for it in items}), {"eval_candidates": "item_id"})
        rows = compose(wh, r)
        summary = wh.query("SELECT * FROM v_evalset_summary").to_dicts()
        manifest = exporter.export(rows, wh.data_snapshot(["eval_items"]), out_dir, r.run_id) if rows else None
        log.info("evalset: %d items (%s)", len(rows), summary)
        return {"run_id": r.run_id, "stage": STAGE, "changed": r.changed, "rows": dict(r.rows),
                "items": len(items), "checked": len(todo), "skipped": r.skipped, "calls": calls,
                "eval_items": len(rows), "per_benchmark": summary, "export": manifest,
                "quarantined": len(r.quarantined)}
