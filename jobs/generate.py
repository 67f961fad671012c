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
"""
from __future__ import annotations

import hashlib
import logging
import re

import polars as pl

from jobs.prompts import load_prompt, render, seeds_block
from jobs.prompts.messages import captions_text, page_data_blocks, user_content, video_frames
from jobs.sources.base import SKILLS, ChatRequest, GeneratedQA, QAItem
from videokr.settings import Settings
from warehouse import Warehouse, stage_run

log = logging.getLogger("videokr.generate")

LETTERS = "ABCDEFGHIJ"
DEFAULTS = {"attach_frames": None, "n_frames": None, "captions_max_chars": 6000, "max_answer_words": 30}
_OPTION = re.compile(r"^([A-J])\.\s+\S")


def candidate_id(video_id: str, skill: str, problem_type: str, question: str) -> str:
    key = "\x1f".join([video_id, skill, problem_type, " ".join(question.split())])
    return "qa-" + hashlib.sha256(key.encode()).hexdigest()[:16]


def validate_item(item: QAItem, max_answer_words: int = 30) -> str | None:
    """None when the item is well formed, else the reason."""
    if not item.question.strip():
        return "empty question"
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
               k.statement AS kp_statement, sub.name AS subject_name, d.path
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
                  captions_max_chars: int = 6000) -> ChatRequest:
    """The generate_qa request: instructions (system) and frames + quoted page text (user)."""
    system = render(prompt, subject=video.get("subject_name") or video["subject_id"],
                    kp_name=video.get("kp_name") or "", kp_statement=video.get("kp_statement") or "", seeds=seeds)
    data = page_data_blocks(video.get("title"), video.get("description"), captions_text(cues), captions_max_chars)
    user = user_content(f"Frames of the video, in time order ({n_frames}):", frames_parts, data,
                        "Write the questions for all three skills now, as JSON.")
    return ChatRequest(role="generator", task="generate_qa", prompt_version=prompt.id, schema=GeneratedQA,
                       messages=[{"role": "system", "content": system}, {"role": "user", "content": user}],
                       context={"video_id": video["video_id"], "kp_id": video["kp_id"], "n_frames": n_frames,
                                "subject_id": video["subject_id"]})


def run(settings: Settings | None = None, subjects: list[str] | None = None, params: dict | None = None,
        offline_model=None) -> dict:
    """Run the stage for `subjects` (all when empty). `offline_model`: a ChatModel to stand in for offline roles
    (default: the offline model over the sample library)."""
    from jobs.llm import ModelLayer
    settings = settings or Settings.load()
    p = {**DEFAULTS, **settings.section("generate"), **{k: v for k, v in (params or {}).items() if v is not None}}
    subjects = list(subjects or [])
    with Warehouse(settings) as wh, stage_run(wh, "generate", {"subjects": subjects}, p) as run:
        layer = ModelLayer(settings, wh, run.run_id, offline_model=offline_model)
        attach = p["attach_frames"]
        if attach is None:
            attach = layer.cfg.role("generator").backend != "offline"
        n_frames = int(p["n_frames"] or layer.cfg.frames["count"])
        prompt = load_prompt("generate_qa", settings=settings)
        seeds = seeds_block()
        videos = kept_videos(wh, subjects).to_dicts()
        cues = captions_by_video(wh, [v["video_id"] for v in videos])
        reqs, todo = [], []
        for v in videos:
            if v["kp_name"] is None:
                run.quarantine(v["video_id"], "unknown_kp", f"screening kp_id {v['kp_id']} not in knowledge_points")
                continue
            parts: list[dict] = []
            if attach:
                try:
                    parts = layer.frames_to_parts(video_frames(v["path"], n_frames))
                except Exception as exc:  # noqa: BLE001 - a bad file is quarantined, the run goes on
                    run.quarantine(v["video_id"], "frames_unreadable", f"{v['path']}: {exc}")
                    continue
            reqs.append(build_request(v, cues.get(v["video_id"], []), prompt, seeds, parts, n_frames,
                                      int(p["captions_max_chars"])))
            todo.append(v)
        log.info("generate: %d kept videos in scope, %d requests", len(videos), len(reqs))
        rows, done, n_bad = collect_items(run, todo, layer.call_many(reqs), prompt.id, int(p["max_answer_words"]))
        write_candidates(wh, run, subjects, rows, done, [v["video_id"] for v in videos])
        layer.flush()
        per_skill = {s: sum(r["skill"] == s for r in rows) for s in SKILLS}
        log.info("generate: %d candidates from %d videos (%d invalid items) %s", len(rows), len(done), n_bad, per_skill)
        return {"run_id": run.run_id, "stage": "generate", "rows": dict(run.rows), "videos": len(videos),
                "videos_generated": len(done), "candidates": len(rows), "invalid_items": n_bad,
                "per_skill": per_skill, "quarantined": len(run.quarantined)}


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
                "prompt_version": prompt_id, "call_id": res.call_id})
    return list(rows.values()), done, n_bad


def write_candidates(wh, run, subjects: list[str], rows: list[dict], done: list[str], kept: list[str]) -> None:
    """Replace the candidates of the videos generated now; drop those of videos no longer kept.

    Videos whose call failed keep their earlier candidates (a transient failure never erases data).
    """
    schema = {"candidate_id": pl.Utf8, "video_id": pl.Utf8, "kp_id": pl.Utf8, "subject_id": pl.Utf8,
              "skill": pl.Utf8, "problem_type": pl.Utf8, "question": pl.Utf8, "options": pl.List(pl.Utf8),
              "answer": pl.Utf8, "think": pl.Utf8, "model": pl.Utf8, "prompt_version": pl.Utf8, "call_id": pl.Utf8}
    run.write("candidates", pl.DataFrame(rows, schema=schema), scope={"video_id": done})
    have = wh.query("""SELECT DISTINCT video_id FROM candidates
                       WHERE ? OR subject_id IN (SELECT unnest(?::VARCHAR[]))""", [not subjects, subjects])
    stale = sorted(set(have["video_id"].to_list()) - set(kept))
    if stale:
        run.write("candidates", pl.DataFrame(schema={"candidate_id": pl.Utf8}), scope={"video_id": stale})
