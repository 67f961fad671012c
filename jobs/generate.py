"""Generate stage: three-skill question candidates (multiple choice and open-ended, each with a CoT) per kept video.

For each screened, kept video (screening.decision = 'keep', with a kp_id) of the subjects in scope, one
`generate_qa` call through the model layer (role `generator`): the versioned prompt with expert seed examples
and the knowledge point, the video's frames as images, and its title, description and captions quoted as
UNTRUSTED DATA. Every returned item is validated; bad items are quarantined and the run goes on.

Writes `candidates` (lineage: video, kp, skill, type, model, prompt_version, call_id). A rerun on the same input
changes nothing (stable candidate ids, cached/deterministic calls). Params (also `[generate]` in videokr.toml):
    attach_frames   send frames as images (default: unless the generator role is the offline stand-in, which
                    reads scene records instead)
    n_frames        frames per video (default: [llm.frames] count)
    captions_max_chars, max_answer_words
    chunk_videos    videos per committed chunk (default 50): a crash loses at most one chunk's work

Durable and incremental: each chunk of videos commits its candidates, ledger rows, quarantine rows and the videos'
input fingerprints (video page, captions, frame instants, file sha256, model, prompt version, seeds, params) in one
transaction; a rerun skips every video whose fingerprint is unchanged, before any decode or model call.
"""
from __future__ import annotations

import hashlib
import logging
import re

import polars as pl

from jobs.prompts import load_prompt, render, seeds_block
from jobs.media.model_frames import load as load_frames, request_times, stored_timestamps
from jobs.prompts.messages import captions_text, page_data_blocks, user_content
from jobs.sources.base import SKILLS, ChatRequest, GeneratedQA, QAItem
from videokr.settings import Settings
from warehouse import Warehouse, stage_run
from warehouse.runs import fingerprint

log = logging.getLogger("videokr.generate")

LETTERS = "ABCDEFGHIJ"
DEFAULTS = {"attach_frames": None, "n_frames": None, "captions_max_chars": 6000, "max_answer_words": 30,
            "chunk_videos": 50}
_OPTION = re.compile(r"^([A-J])\.\s+\S")


def candidate_id(video_id: str, skill: str, problem_type: str, question: str) -> str:
    key = "\x1f".join([video_id, skill, problem_type, " ".join(question.split())])
    return "qa-" + hashlib.sha256(key.encode()).hexdigest()[:16]


# longest text a generated field may hold (a runaway reply must not become a training example)
MAX_CHARS = {"question": 4000, "think": 20000, "answer": 1000, "option": 1000}


def validate_item(item: QAItem, max_answer_words: int = 30) -> str | None:
    """None when the item is well formed, else the reason."""
    if not item.question.strip():
        return "empty question"
    for name, value in (("question", item.question), ("think", item.think), ("answer", item.answer),
                        *(("option", o) for o in item.options or [])):
        if len(value) > MAX_CHARS[name]:
            return f"{name} is {len(value):,} characters (at most {MAX_CHARS[name]:,})"
    if not item.think.strip():
        return "empty think"
    if item.skill not in SKILLS:
        return f"unknown skill {item.skill!r}"
    if item.problem_type == "multiple choice":
        opts = item.options or []
        if not 4 <= len(opts) <= 10:
            return f"multiple choice needs 4-10 options, got {len(opts)}"
        for i, opt in enumerate(opts):
            m = _OPTION.match(opt.strip())
            if not m or m.group(1) != LETTERS[i]:
                return f"option {i + 1} must start with '{LETTERS[i]}. ' and have text, got {opt[:40]!r}"
        texts = [" ".join(o.strip()[3:].lower().split()) for o in opts]
        if len(set(texts)) != len(texts):
            return "duplicate option texts (more than one could be correct)"
        if item.answer.strip() not in LETTERS[:len(opts)] or len(item.answer.strip()) != 1:
            return f"answer must be exactly one option letter, got {item.answer!r}"
    else:
        if item.options:
            return "open-ended items carry no options"
        words = item.answer.split()
        if not words:
            return "empty reference answer"
        if len(words) > max_answer_words:
            return f"reference answer too long ({len(words)} words > {max_answer_words})"
    return None


def kept_videos(wh: Warehouse, subjects: list[str] | None) -> pl.DataFrame:
    """Kept videos with their knowledge point, subject and page text (the stage input)."""
    return wh.query("""
        SELECT s.video_id, s.subject_id, s.kp_id, v.title, v.description, k.name AS kp_name,
               k.statement AS kp_statement, sub.name AS subject_name, d.path, v.duration_s
        FROM screening s
        LEFT JOIN videos v ON v.video_id = s.video_id
        LEFT JOIN knowledge_points k ON k.kp_id = s.kp_id
        LEFT JOIN subjects sub ON sub.subject_id = s.subject_id
        LEFT JOIN downloads d ON d.video_id = s.video_id
        WHERE s.decision = 'keep' AND s.kp_id IS NOT NULL
          AND (? OR s.subject_id IN (SELECT unnest(?::VARCHAR[])))
        ORDER BY s.video_id""", [not subjects, list(subjects or [])])


def captions_by_video(wh: Warehouse, video_ids: list[str]) -> dict[str, list[dict]]:
    if not video_ids:
        return {}
    df = wh.query("SELECT video_id, cue_index, start_s, text FROM captions WHERE video_id IN (SELECT unnest(?))",
                  [video_ids])
    out: dict[str, list[dict]] = {}
    for r in df.iter_rows(named=True):
        out.setdefault(r["video_id"], []).append(r)
    return out


def build_request(video: dict, cues: list[dict], prompt, seeds: str, frames_parts: list[dict], n_frames: int,
                  captions_max_chars: int = 6000, times: list[float] | None = None) -> ChatRequest:
    """The generate_qa request: instructions (system) and frames + quoted page text (user). The context's
    `frame_times` are the instants of the frames the model sees (attached or not)."""
    system = render(prompt, subject=video.get("subject_name") or video["subject_id"],
                    kp_name=video.get("kp_name") or "", kp_statement=video.get("kp_statement") or "", seeds=seeds)
    data = page_data_blocks(video.get("title"), video.get("description"), captions_text(cues), captions_max_chars)
    user = user_content(f"Frames of the video, in time order ({n_frames}):", frames_parts, data,
                        "Write the questions for all three skills now, as JSON.")
    return ChatRequest(role="generator", task="generate_qa", prompt_version=prompt.id, schema=GeneratedQA,
                       messages=[{"role": "system", "content": system}, {"role": "user", "content": user}],
                       context={"video_id": video["video_id"], "kp_id": video["kp_id"], "n_frames": n_frames,
                                "subject_id": video["subject_id"], "frame_times": list(times or [])})


def run(settings: Settings | None = None, subjects: list[str] | None = None, params: dict | None = None,
        offline_model=None) -> dict:
    """Run the stage for `subjects` (all when empty). `offline_model`: a ChatModel to stand in for offline roles
    (default: the offline model over the sample library)."""
    from jobs.llm import ModelLayer
    settings = settings or Settings.load()
    p = {**DEFAULTS, **settings.section("generate"), **{k: v for k, v in (params or {}).items() if v is not None}}
    subjects = list(subjects or [])
    with Warehouse(settings) as wh, stage_run(wh, "generate", {"subjects": subjects}, p) as run:
        layer = ModelLayer(settings, run, run.run_id, offline_model=offline_model)
        layer.check_independence(run)          # before any work: a generator must not be its own judge
        attach = p["attach_frames"]
        if attach is None:
            attach = layer.cfg.role("generator").backend != "offline"
        n_frames = int(p["n_frames"] or layer.cfg.frames["count"])
        prompt = load_prompt("generate_qa", settings=settings)
        seeds = seeds_block()
        videos = kept_videos(wh, subjects).to_dicts()
        ids = [v["video_id"] for v in videos]
        cues = captions_by_video(wh, ids)
        budget = layer.frame_budget(n_frames)
        stamps = stored_timestamps(wh, ids, budget)
        be = layer.backend("generator")
        fixed = {"model": f"{be.kind}:{be.model}", "prompt": prompt.id, "seeds": seeds, "attach": attach,
                 "n_frames": n_frames, **{k: p[k] for k in ("captions_max_chars", "max_answer_words")}}
        shas = file_sha(wh, ids)
        fps = {v["video_id"]: fingerprint(v, cues.get(v["video_id"], []), stamps.get(v["video_id"]),
                                          shas.get(v["video_id"]), fixed) for v in videos}
        have = run.fingerprints(ids)
        todo = [v for v in videos if have.get(v["video_id"]) != fps[v["video_id"]]]
        run.skipped = len(videos) - len(todo)
        log.info("generate: %d kept videos in scope, %d unchanged (skipped), %d to generate",
                 len(videos), run.skipped, len(todo))
        rows, done, n_bad = [], [], 0
        size = max(1, int(p["chunk_videos"]))
        for i in range(0, len(todo), size):
            with run.chunk():     # the chunk's candidates, ledger, quarantine and fingerprints: one transaction
                c_rows, c_done, c_bad = generate_chunk(run, layer, todo[i:i + size], cues, prompt, seeds, attach,
                                                       budget, stamps, fps, p)
                layer.flush()
            rows += c_rows
            done += c_done
            n_bad += c_bad
            log.info("generate: %d/%d videos done, %d candidates", min(i + size, len(todo)), len(todo), len(rows))
        drop_stale(wh, run, subjects, ids)
        per_skill = {s: sum(r["skill"] == s for r in rows) for s in SKILLS}
        log.info("generate: %d candidates from %d videos (%d invalid items) %s", len(rows), len(done), n_bad, per_skill)
        return {"run_id": run.run_id, "stage": "generate", "rows": dict(run.rows), "videos": len(videos),
                "changed": run.changed,
                "videos_generated": len(done), "candidates": len(rows), "invalid_items": n_bad,
                "per_skill": per_skill, "quarantined": len(run.quarantined), "skipped": run.skipped,
                "cache_hits": layer.ledger.totals["cache_hits"]}


def file_sha(wh, ids: list[str]) -> dict[str, str]:
    """video_id -> sha256 of its file (video_files, written by the frames stage): the file's content enters the
    fingerprint without reading the file."""
    df = wh.query("SELECT video_id, sha256 FROM video_files WHERE video_id IN (SELECT unnest(?::VARCHAR[]))", [ids])
    return dict(df.iter_rows())


def generate_chunk(run, layer, videos: list[dict], cues: dict, prompt, seeds: str, attach: bool, budget, stamps: dict,
                   fps: dict, p: dict) -> tuple[list[dict], list[str], int]:
    """Generate for a few videos; write their candidates (replacing earlier ones) and mark them done. A video whose
    call failed is not marked done (retried next run) and keeps its earlier candidates."""
    reqs, sent, settled = [], [], {}
    for v in videos:
        if v["kp_name"] is None:
            run.quarantine(v["video_id"], "unknown_kp", f"screening kp_id {v['kp_id']} not in knowledge_points")
            settled[v["video_id"]] = (fps[v["video_id"]], v["subject_id"])
            continue
        parts: list[dict] = []
        if attach:
            try:
                parts = layer.image_parts(load_frames(v["path"], budget, stamps.get(v["video_id"])))
            except Exception as exc:  # noqa: BLE001 - a bad file is quarantined, the run goes on
                run.quarantine(v["video_id"], "frames_unreadable", f"{v['path']}: {exc}")
                continue
        times = [f["frame"]["t"] for f in parts] or request_times(v, stamps, budget.frames)
        reqs.append(build_request(v, cues.get(v["video_id"], []), prompt, seeds, parts, budget.frames,
                                  int(p["captions_max_chars"]), times))
        sent.append(v)
    rows, done, n_bad = collect_items(run, sent, layer.call_many(reqs), prompt.id, int(p["max_answer_words"]))
    write_candidates(run, rows, done)
    write_planted(run, layer, done)
    by_id = {v["video_id"]: v for v in sent}
    run.mark_done(settled | {vid: (fps[vid], by_id[vid]["subject_id"]) for vid in done})
    return rows, done, n_bad


def collect_items(run, videos: list[dict], results, prompt_id: str, max_answer_words: int):
    """Candidate rows from the replies; failed calls and invalid items are quarantined."""
    rows: dict[str, dict] = {}
    done: list[str] = []
    n_bad = 0
    for v, res in zip(videos, results):
        if res.parsed is None:
            run.quarantine(v["video_id"], "generation_failed", f"{res.status}: {res.error}")
            continue
        done.append(v["video_id"])
        if not res.parsed.items:        # e.g. a model that obeyed an instruction planted in the captions
            run.quarantine(v["video_id"], "no_items", f"{v['video_id']}: the reply held no question items")
        for i, item in enumerate(res.parsed.items):
            problem = validate_item(item, max_answer_words)
            if problem:
                n_bad += 1
                run.quarantine(f"{v['video_id']}#item{i}", "invalid_item", problem)
                continue
            mc = item.problem_type == "multiple choice"
            cid = candidate_id(v["video_id"], item.skill, item.problem_type, item.question)
            rows.setdefault(cid, {
                "candidate_id": cid, "video_id": v["video_id"], "kp_id": v["kp_id"], "subject_id": v["subject_id"],
                "skill": item.skill, "problem_type": item.problem_type, "question": item.question.strip(),
                "options": [o.strip() for o in item.options] if mc else None,
                "answer": item.answer.strip(), "think": item.think.strip(), "model": res.model,
                "prompt_version": prompt_id, "call_id": res.call_id,
                "evidence_s": None if item.evidence_s is None else float(item.evidence_s)})
    return list(rows.values()), done, n_bad


_CANDIDATE_SCHEMA = {"candidate_id": pl.Utf8, "video_id": pl.Utf8, "kp_id": pl.Utf8, "subject_id": pl.Utf8,
                     "skill": pl.Utf8, "problem_type": pl.Utf8, "question": pl.Utf8, "options": pl.List(pl.Utf8),
                     "answer": pl.Utf8, "think": pl.Utf8, "model": pl.Utf8, "prompt_version": pl.Utf8,
                     "call_id": pl.Utf8, "evidence_s": pl.Float64}


def write_candidates(run, rows: list[dict], done: list[str]) -> None:
    """Replace the candidates of the videos generated now. Videos whose call failed keep their earlier candidates
    (a transient failure never erases data)."""
    run.write("candidates", pl.DataFrame(rows, schema=_CANDIDATE_SCHEMA), scope={"video_id": done})


def write_planted(run, layer, done: list[str]) -> None:
    """Sample world with the offline generator only: the questions it was planted to get wrong in these videos
    (table `planted_items`, ground truth for v_check_catch_rates; no check reads it)."""
    if getattr(layer.settings, "search_source", None) != "sample" or layer.cfg.role("generator").backend != "offline":
        return
    from jobs.sources.sample.planted import planted_items
    world = getattr(layer.backend("generator"), "chat_model", None)
    scenes = [world.scene(v) for v in done] if hasattr(world, "scene") else []
    run.write("planted_items", pl.DataFrame(planted_items(scenes), schema=_PLANTED_SCHEMA), scope={"video_id": done})


_PLANTED_SCHEMA = {"video_id": pl.Utf8, "question": pl.Utf8, "kind": pl.Utf8, "expected_check": pl.Utf8,
                   "fact_id": pl.Utf8}


def drop_stale(wh, run, subjects: list[str], kept: list[str]) -> None:
    """Drop the candidates (and fingerprints) of videos no longer kept."""
    have = wh.query("""SELECT DISTINCT video_id FROM candidates
                       WHERE ? OR subject_id IN (SELECT unnest(?::VARCHAR[]))""", [not subjects, subjects])
    run.forget(sorted(set(have["video_id"].to_list()) - set(kept)),
               {"candidates": "video_id", "planted_items": "video_id"})
