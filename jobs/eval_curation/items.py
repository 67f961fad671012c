"""The inputs of `videokr evalset build`: benchmark items whose video is on disk, in the shape the verify stage's
video-dependency check reads (jobs/verify.py `verify_chunk`: candidate_id, video_id, question, options, answer,
problem_type, path, duration_s, page text).

- Real benchmarks: `benchmark_items` joined to the videos `videokr benchmarks fetch` has on disk
  (sql/queries/evalset_fetched_items.sql). The page text the blind solver gets is what the fetch kept beside the mp4
  (captions `<id>*.vtt`); benchmark manifests carry no title or description.
- The embedded sample world (search_source = "sample"): its benchmark-like originals count as fetched; their items
  are the scenes' facts, asked open-ended (benchmark `sample`), with the originals' own page text and captions.

Items that cannot be used (no question, no answer, a multiple-choice answer that names no option, a video file that
is gone) are returned apart with the reason, for the stage to quarantine.
"""
from __future__ import annotations

import hashlib
import re
from pathlib import Path

from videokr.settings import SQL_DIR, Settings

LETTERS = "ABCDEFGHIJ"


def task_id(item_id: str) -> str:
    """The review page's id of an item's re-annotation task (no slashes, stable across builds)."""
    return "ra-" + hashlib.sha256(item_id.encode()).hexdigest()[:16]


def _problem_type(question_type: str | None, options: list[str]) -> str:
    qt = (question_type or "").lower().replace("-", " ").replace("_", " ")
    if "open" in qt:
        return "open-ended"
    return "multiple choice" if options or "choice" in qt else "open-ended"


def normalise(bench: str, src_id: str, question, question_type, options, answer, subject) -> dict:
    """An eval item's text in the VideoKR shape; raises ValueError naming what is unusable."""
    options = [str(o) for o in (options or []) if str(o).strip()]
    ptype = _problem_type(question_type, options)
    if not str(question or "").strip():
        raise ValueError("no question")
    ans = str(answer or "").strip()
    if not ans:
        raise ValueError("no answer")
    if ptype == "multiple choice":
        if len(options) < 2:
            raise ValueError(f"multiple choice with {len(options)} option(s)")
        options = [o if re.match(r"^[A-J][.)]\s", o) else f"{LETTERS[i]}. {o}" for i, o in enumerate(options)]
        letter = ans.upper().strip("().") if len(ans.strip("().")) == 1 else None
        if letter is None or letter not in LETTERS[:len(options)]:
            by_text = [LETTERS[i] for i, o in enumerate(options) if o[3:].strip().lower() == ans.lower()]
            if not by_text:
                raise ValueError(f"answer {ans!r} names none of the {len(options)} options")
            letter = by_text[0]
        ans = letter
    else:
        options = []
    item_id = f"{bench}/{src_id}"
    return {"item_id": item_id, "candidate_id": item_id, "task_id": task_id(item_id), "source_benchmark": bench,
            "source_item_id": str(src_id), "problem_type": ptype, "question": str(question).strip(),
            "options": options, "answer": ans, "subject": subject, "subject_id": subject or bench}


def _captions(video_path: str) -> list[dict]:
    """Cues of the captions yt-dlp wrote beside the mp4 (English first), [] when there are none."""
    from jobs.screening.captions import CaptionsError, parse_vtt
    folder = Path(video_path).parent
    for vtt in sorted(folder.glob("*.vtt"), key=lambda p: (".en." not in p.name, p.name)):
        try:
            return parse_vtt(vtt.read_text(errors="replace"))
        except (OSError, CaptionsError):
            continue
    return []


def fetched_items(wh, settings: Settings) -> tuple[list[dict], dict[str, list[dict]], list[tuple[str, str, str]]]:
    """(items, captions by video id, bad: [(item, reason, detail)]) of every benchmark whose videos are on disk."""
    from jobs.media.model_frames import VideoError, probe
    items, cues, bad = [], {}, []
    durations: dict[str, float | None] = {}
    for r in wh.query((SQL_DIR / "queries" / "evalset_fetched_items.sql").read_text()).to_dicts():
        name = f"{r['benchmark']}/{r['item_id']}"
        try:
            it = normalise(r["benchmark"], r["item_id"], r["question"], r["question_type"], r["options"],
                           r["answer"], r["subject"])
        except ValueError as exc:
            bad.append((name, "eval_item_unusable", str(exc)))
            continue
        path = r["path"]
        if path not in durations:
            try:
                durations[path] = probe(path)["duration_s"]
            except (VideoError, OSError) as exc:
                durations[path] = None
                bad.append((path, "eval_video_unreadable", f"{name}: {exc}"))
        if durations[path] is None:
            continue
        if r["video_id"] not in cues:
            cues[r["video_id"]] = _captions(path)
        items.append(it | {"video_id": r["video_id"], "path": path, "video_path": path,
                           "duration_s": durations[path], "title": None, "description": None})
    if settings.search_source == "sample":
        s_items, s_cues = sample_items(settings)
        items += s_items
        cues |= s_cues
    return items, cues, bad


def sample_items(settings: Settings) -> tuple[list[dict], dict[str, list[dict]]]:
    """The sample world's benchmark: one open-ended item per fact of each benchmark-like original."""
    from jobs.screening.captions import parse_vtt
    from jobs.sources.sample.library import build_library
    items, cues = [], {}
    for b in build_library(settings).benchmark_videos:
        scene, mp4 = b["scene"], Path(b["mp4"])
        meta = _sample_metadata(mp4)
        vtt = next(iter(sorted(mp4.parent.glob("*.vtt"))), None)
        cues[b["video_id"]] = parse_vtt(vtt.read_text()) if vtt else []
        for f in scene.get("facts", []):
            it = normalise("sample", f"{b['item_id']}/{f['fact_id']}", f["question"], "open-ended", None,
                           f["answer"], (scene.get("kp") or {}).get("subject_id") or scene.get("scene_type"))
            items.append(it | {"video_id": b["video_id"], "path": str(mp4), "video_path": str(mp4),
                               "duration_s": float(scene.get("duration_s") or 0), **meta})
    return items, cues


def _sample_metadata(mp4: Path) -> dict:
    import json
    try:
        snippet = json.loads((mp4.parent / "item.json").read_text())["metadata"]["snippet"]
    except (OSError, ValueError, KeyError, TypeError):
        return {"title": None, "description": None}
    return {"title": snippet.get("title"), "description": snippet.get("description")}


def scenes(settings: Settings) -> dict[str, dict]:
    """video_id -> scene record of every sample-world video, benchmark originals included: what the offline
    stand-in 'sees' through a request's frame instants."""
    from jobs.sources.sample.library import build_library
    lib = build_library(settings)
    out = {it.video_id: it.scene for it in lib.items if it.scene}
    out |= {b["video_id"]: b["scene"] for b in lib.benchmark_videos}
    return out
