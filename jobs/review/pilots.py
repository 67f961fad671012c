"""Pilots: every candidate model of a reviewed step runs on the same stratified sample of that step's inputs, through
the stage's own request building and the model layer (cached, ledgered, with the step's roles served by the
candidate), and its outputs go to `review_samples` for the experts.

| step              | inputs (sampling unit)                        | stratum                      | request (stage code)        |
|-------------------|-----------------------------------------------|------------------------------|-----------------------------|
| qa_generation     | (kept video, skill, question type) slots      | discipline / skill / type    | jobs.generate.build_request |
| solving           | candidates                                    | discipline / skill / type    | jobs.verify.solve_request   |
| cot_validation    | candidates                                    | discipline / skill / type    | jobs.verify.cot_request     |
| relevance_judging | screened videos with a file                   | discipline                   | screening visual_requests   |
| keyword_expansion | knowledge points                              | discipline                   | jobs.kb.keywords            |

For qa_generation one call per sampled video is made (the stage generates all skills at once) and the sample shows
the item of the slot's skill and type (or says the model wrote none). Sampling is deterministic: items are spread
over the strata in turn (name order), each stratum's items in hash order of (step, item id), so every model gets
the same items and a rerun draws the same sample. Stage entry: `videokr stage review` / the `review` DAG.
"""
from __future__ import annotations

import hashlib
import logging

from jobs.review import pool
from jobs.review.samples import add_samples

log = logging.getLogger("videokr.review")
PROBLEM_TYPES = ("multiple choice", "open-ended")
DEFAULTS = {"steps": None, "sample_size": None, "n_frames": None, "captions_max_chars": 6000, "keywords": 5}
EXCERPT = 800


def _h(*parts) -> str:
    return hashlib.sha256("\x1f".join(str(p) for p in parts).encode()).hexdigest()


def stratified(items: list[dict], n: int, salt: str) -> list[dict]:
    """`n` of `items` (each with item_id and stratum), taken from the strata in turn so that every stratum is
    represented before any gets a second item; deterministic for the same items and salt."""
    by: dict[str, list[dict]] = {}
    for it in sorted(items, key=lambda it: _h(salt, it["item_id"])):
        by.setdefault(it["stratum"] or "", []).append(it)
    out: list[dict] = []
    queues = [by[s] for s in sorted(by)]
    while len(out) < n and any(queues):
        for q in queues:
            if q and len(out) < n:
                out.append(q.pop(0))
    return out


def _disciplines(wh) -> dict[str, str]:
    df = wh.query("""SELECT s.subject_id, coalesce(d.name, s.discipline_id, '?') AS discipline
                     FROM subjects s LEFT JOIN disciplines d USING (discipline_id)""")
    return dict(df.iter_rows())


# ---------------------------------------------------------------------- inputs per step


def qa_inputs(wh, subjects: list[str]) -> list[dict]:
    from jobs.generate import kept_videos
    from jobs.sources.base import SKILLS
    disc = _disciplines(wh)
    return [{"item_id": f"{v['video_id']}/{skill}/{pt}", "stratum": f"{disc.get(v['subject_id'], '?')}/{skill}/{pt}",
             "video": v, "skill": skill, "problem_type": pt}
            for v in kept_videos(wh, subjects).to_dicts() for skill in SKILLS for pt in PROBLEM_TYPES]


def candidate_inputs(wh, subjects: list[str]) -> list[dict]:
    from jobs.verify import load_candidates
    disc = _disciplines(wh)
    return [{"item_id": c["candidate_id"], "cand": c,
             "stratum": f"{disc.get(c['subject_id'], '?')}/{c['skill']}/{c['problem_type']}"}
            for c in load_candidates(wh, subjects)]


def relevance_inputs(wh, subjects: list[str]) -> list[dict]:
    disc = _disciplines(wh)
    df = wh.query("""
        SELECT s.video_id, s.subject_id, s.kp_id, k.name AS kp_name, k.statement AS kp_statement, v.title,
               v.description, d.path
        FROM screening s JOIN downloads d USING (video_id) LEFT JOIN videos v USING (video_id)
        LEFT JOIN knowledge_points k ON k.kp_id = s.kp_id
        WHERE d.path IS NOT NULL AND s.kp_id IS NOT NULL
          AND (? OR s.subject_id IN (SELECT unnest(?::VARCHAR[])))""", [not subjects, list(subjects)])
    return [{"item_id": v["video_id"], "stratum": disc.get(v["subject_id"], "?"), "video": v} for v in df.to_dicts()]


def keyword_inputs(wh, subjects: list[str]) -> list[dict]:
    disc = _disciplines(wh)
    df = wh.query("""SELECT kp_id, subject_id, name, statement, keywords FROM knowledge_points
                     WHERE ? OR subject_id IN (SELECT unnest(?::VARCHAR[]))""", [not subjects, list(subjects)])
    return [{"item_id": k["kp_id"], "stratum": disc.get(k["subject_id"], "?"), "kp": k} for k in df.to_dicts()]


INPUTS = {"qa_generation": qa_inputs, "solving": candidate_inputs, "cot_validation": candidate_inputs,
          "relevance_judging": relevance_inputs, "keyword_expansion": keyword_inputs}


# ---------------------------------------------------------------------- running one candidate


def _frames(layer, role: str, videos: dict[str, dict], n: int) -> tuple[dict, dict, dict]:
    """(video -> image parts, video -> instants, video -> error) as the stage makes them: frames attached when the
    role's endpoint is a real model, else the stored instants the stand-in is told it sees."""
    from jobs.media.model_frames import load as load_frames, request_times, stored_timestamps
    budget = layer.frame_budget(n)
    stamps = stored_timestamps(layer.wh.wh if hasattr(layer.wh, "wh") else layer.wh, list(videos), budget)
    attach = layer.cfg.role(role).backend != "offline"
    parts, times, errors = {}, {}, {}
    for vid, v in videos.items():
        parts[vid] = []
        if attach:
            try:
                parts[vid] = layer.image_parts(load_frames(v["path"], budget, stamps.get(vid)))
            except Exception as exc:  # noqa: BLE001 - shown to the reviewer as the sample's error
                errors[vid] = f"frames unreadable: {exc}"
        times[vid] = [f["frame"]["t"] for f in parts[vid]] or request_times(v, stamps, budget.frames)
    return parts, times, errors


def _row(step, model, it, inp, out, times=(), res=None) -> dict:
    if res is not None and res.parsed is None:
        out = {"error": f"{res.status}: {res.error}"}
    return {"step": step, "model": model, "item_id": it["item_id"], "stratum": it["stratum"], "input": inp,
            "output": out, "frame_timestamps": list(times), "call_id": res.call_id if res is not None else None}


def pilot_qa(settings, layer, items: list[dict], model: str, p: dict) -> list[dict]:
    from jobs import generate
    from jobs.prompts import load_prompt, seeds_block
    from jobs.prompts.messages import captions_text
    videos = {it["video"]["video_id"]: it["video"] for it in items}
    parts, times, errors = _frames(layer, "generator", videos, int(p["n_frames"] or layer.cfg.frames["count"]))
    cues = generate.captions_by_video(layer.wh.wh, list(videos))
    prompt, seeds = load_prompt("generate_qa", settings=settings), seeds_block()
    ok = [vid for vid in videos if vid not in errors]
    reqs = [generate.build_request(videos[vid], cues.get(vid, []), prompt, seeds, parts[vid], len(times[vid]) or 1,
                                   int(p["captions_max_chars"]), times[vid]) for vid in ok]
    results = dict(zip(ok, layer.call_many(reqs)))
    rows = []
    for it in items:
        v = it["video"]
        vid = v["video_id"]
        inp = {"knowledge_point": v["kp_name"], "kp_statement": v["kp_statement"], "subject": v["subject_name"],
               "skill": it["skill"], "problem_type": it["problem_type"], "title": v["title"], "video_id": vid,
               "video_path": v["path"], "captions_excerpt": captions_text(cues.get(vid, []))[:EXCERPT]}
        res = results.get(vid)
        if res is None:
            rows.append(_row("qa_generation", model, it, inp, {"error": errors[vid]}, times[vid]))
            continue
        item = next((q for q in (res.parsed.items if res.parsed else [])
                     if q.skill == it["skill"] and q.problem_type == it["problem_type"]), None)
        out = {"missing": f"the model wrote no {it['problem_type']} item of skill {it['skill']}"}
        if item is not None:
            out = {"question": item.question, "options": item.options, "answer": item.answer, "think": item.think,
                   "evidence_s": item.evidence_s}
            bad = generate.validate_item(item)
            if bad:
                out["invalid"] = bad
        rows.append(_row("qa_generation", model, it, inp, out, times[vid], res))
    return rows


def pilot_verify(settings, layer, items: list[dict], model: str, p: dict, step: str) -> list[dict]:
    from jobs import verify
    from jobs.prompts import load_prompt
    role = "solver" if step == "solving" else "cot_validator"
    videos = {it["cand"]["video_id"]: it["cand"] for it in items}
    parts, times, errors = _frames(layer, role, videos, int(p["n_frames"] or layer.cfg.frames["count"]))
    prompt = load_prompt("solve" if step == "solving" else "validate_cot", settings=settings)
    ok = [it for it in items if it["cand"]["video_id"] not in errors]
    reqs = []
    for it in ok:
        c, vid = it["cand"], it["cand"]["video_id"]
        n = len(times[vid]) or 1
        reqs.append(verify.solve_request(c, prompt, parts[vid], n, 0, float(verify.DEFAULTS["temperature"]), False,
                                         times=times[vid]) if step == "solving"
                    else verify.cot_request(c, prompt, parts[vid], n, times[vid]))
    results = dict(zip([it["item_id"] for it in ok], layer.call_many(reqs)))
    rows = []
    for it in items:
        c = it["cand"]
        inp = {"question": c["question"], "options": c["options"], "problem_type": c["problem_type"],
               "skill": c["skill"], "video_id": c["video_id"], "video_path": c["path"], "title": c["title"]}
        if step == "solving":
            inp["reference_answer"] = c["answer"]
        else:
            inp.update(answer=c["answer"], think=c["think"])
        res = results.get(it["item_id"])
        if res is None:
            rows.append(_row(step, model, it, inp, {"error": errors[c["video_id"]]}, times[c["video_id"]]))
            continue
        out = res.parsed.model_dump() if res.parsed is not None else {}
        rows.append(_row(step, model, it, inp, out, times[c["video_id"]], res))
    return rows


def pilot_relevance(settings, layer, items: list[dict], model: str, p: dict) -> list[dict]:
    from jobs.media.model_frames import load as load_frames
    from jobs.screening.checks import visual_requests
    budget = layer.frame_budget(int(p["n_frames"] or layer.cfg.frames["count"]))
    frames, errors = {}, {}
    for it in items:
        try:
            frames[it["item_id"]] = load_frames(it["video"]["path"], budget)
        except Exception as exc:  # noqa: BLE001 - shown as the sample's error
            errors[it["item_id"]] = f"frames unreadable: {exc}"
    ok = [it for it in items if it["item_id"] in frames]
    results = dict(zip([it["item_id"] for it in ok],
                       layer.call_many(visual_requests([it["video"] for it in ok], frames, layer, settings))))
    rows = []
    for it in items:
        v = it["video"]
        inp = {"knowledge_point": v["kp_name"], "kp_statement": v["kp_statement"], "title": v["title"],
               "description": v["description"], "url": f"https://www.youtube.com/watch?v={v['video_id']}",
               "video_id": v["video_id"], "video_path": v["path"]}
        res = results.get(it["item_id"])
        times = list(frames[it["item_id"]].timestamps) if it["item_id"] in frames else []
        out = {"error": errors.get(it["item_id"])} if res is None else (res.parsed.model_dump() if res.parsed else {})
        rows.append(_row("relevance_judging", model, it, inp, out, times, res))
    return rows


def pilot_keywords(settings, layer, items: list[dict], model: str, p: dict) -> list[dict]:
    from jobs.kb.keywords import build_request
    from jobs.prompts import load_prompt
    prompt = load_prompt("expand_keywords", settings=settings)
    results = layer.call_many([build_request(it["kp"], prompt, int(p["keywords"])) for it in items])
    return [_row("keyword_expansion", model, it, {"knowledge_point": it["kp"]["name"],
                                                  "statement": it["kp"]["statement"],
                                                  "keywords": list(it["kp"]["keywords"] or [])},
                 res.parsed.model_dump() if res.parsed else {}, (), res) for it, res in zip(items, results)]


def pilot(settings, layer, step: str, items: list[dict], model: str, p: dict) -> list[dict]:
    if step == "qa_generation":
        return pilot_qa(settings, layer, items, model, p)
    if step in ("solving", "cot_validation"):
        return pilot_verify(settings, layer, items, model, p, step)
    if step == "relevance_judging":
        return pilot_relevance(settings, layer, items, model, p)
    return pilot_keywords(settings, layer, items, model, p)


# ---------------------------------------------------------------------- the stage


def run(settings=None, subjects: list[str] | None = None, params: dict | None = None, offline_model=None) -> dict:
    """Pilot the configured steps (params `steps`, default all with candidates) for `subjects` (all when empty).
    `sample_size` overrides the pool's; `offline_model` stands in for offline endpoints (as in the stages)."""
    from jobs.llm import ModelLayer
    from videokr.settings import Settings
    from warehouse import Warehouse, stage_run
    settings = settings or Settings.load()
    p = {**DEFAULTS, **{k: v for k, v in (params or {}).items() if v is not None}}
    pools = pool.pools(settings)
    steps = list(p["steps"] or [s for s in pool.STEPS if s in pools and pools[s].candidates])
    for s in steps:
        if s not in pools or not pools[s].candidates:
            raise ValueError(f"review: step {s!r} has no candidates in [review.steps.{s}]")
    subjects = list(subjects or [])
    drawn: dict[str, int] = {}
    with Warehouse(settings) as wh, stage_run(wh, "review", {"subjects": subjects, "steps": steps}, p) as run:
        for step in steps:
            sp = pools[step]
            items = stratified(INPUTS[step](wh, subjects), int(p["sample_size"] or sp.sample_size), step)
            drawn[step] = len(items)
            log.info("review %s: %d items over %d strata, %d candidates", step, len(items),
                     len({it["stratum"] for it in items}), len(sp.candidates))
            if not items:
                log.warning("review %s: no inputs in scope (has the stage before it run?)", step)
                continue
            for cand in sp.candidates:
                with run.chunk():       # one model's samples and the ledger of its calls: one transaction
                    with ModelLayer(settings, run, run.run_id, offline_model=offline_model,
                                    steps={step: cand.endpoint}) as layer:
                        rows = pilot(settings, layer, step, items, cand.model, p)
                    add_samples(wh, run, rows)
                log.info("review %s: %s wrote %d samples", step, cand.model, len(rows))
        return {"run_id": run.run_id, "stage": "review", "rows": dict(run.rows), "changed": run.changed,
                "steps": steps, "items": drawn}
