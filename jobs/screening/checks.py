"""The screen stage's checks, one function per check, each returning a `screening_checks` row (without run_id).

    media            the mp4 opens, demuxes completely and decodes (zero-byte / truncated / corrupt -> fails)
    moderation       title + description + captions, and sampled frames, through the configured Moderator
    text_relevance   cosine(KP, metadata + captions) with the offline MiniLM model; the threshold applies in `decide`
    visual_relevance the relevance_judge role on sampled frames through the model layer (jobs.llm)
"""
from __future__ import annotations

import json
import logging
import re

from jobs.media.model_frames import Budget, VideoError, encode_jpeg, load

log = logging.getLogger("videokr.screen")

CHECKS = ("media", "moderation", "text_relevance", "visual_relevance")
MODERATION_SIDE = 1024   # longest side of the frames sent to image moderation
MAX_DURATION_S = 30 * 60  # the paper's limit; collect applies it to the metadata, `media` to the file itself


def moderation_frames(path: str, count: int) -> list:
    """The frames image moderation sees: the model frames of a `count` budget, at most MODERATION_SIDE pixels."""
    return load(path, Budget(frames=count, max_side=MODERATION_SIDE)).frames


def row(video: dict, check: str, passed: bool | None, score: float | None = None, detail: str | dict = "") -> dict:
    return {"video_id": video["video_id"], "check_name": check, "subject_id": video["subject_id"],
            "kp_id": video.get("kp_id"), "passed": passed, "score": score,
            "detail": detail if isinstance(detail, str) else json.dumps(detail, sort_keys=True, default=str)}


def media(video: dict, path: str | None, n_frames: int, max_duration_s: float = MAX_DURATION_S) -> tuple[dict, list]:
    """(check row, frames). A missing download fails with the download error as detail; a file longer than
    `max_duration_s` fails with reason `too_long` (the metadata that let it through said otherwise)."""
    if not path:
        return row(video, "media", False, None, {"reason": "download", "error": video.get("download_error")}), []
    try:
        clip = load(path, Budget(frames=n_frames, max_side=MODERATION_SIDE))
    except VideoError as exc:
        return row(video, "media", False, None, {"reason": "corrupt", "kind": exc.reason, "error": str(exc)}), []
    except Exception as exc:  # noqa: BLE001 - any decoder failure means the file is unusable
        return row(video, "media", False, None, {"reason": "corrupt", "kind": type(exc).__name__,
                                                 "error": str(exc)[:500]}), []
    duration = clip.meta.get("duration_s")
    if duration is not None and duration > max_duration_s:
        return row(video, "media", False, duration, clip.meta | {
            "reason": "too_long", "error": f"{path}: the file lasts {duration:.0f} s (> {max_duration_s:.0f} s)"}), []
    return row(video, "media", True, duration, clip.meta), clip.frames


def moderation(video: dict, moderator, captions: str, frames: list, scene: dict | None,
               prior: dict | None = None) -> dict:
    """The moderation check. `prior`: the details of an earlier attempt that failed part-way (its text verdict and
    the frames already judged are kept, so a rerun pays only for what was not answered)."""
    text = "\n".join(x for x in (video.get("title"), video.get("description"), captions) if x)
    out: dict = {"moderator": getattr(moderator, "name", type(moderator).__name__)}
    prior = prior if prior and prior.get("moderator") == out["moderator"] else {}
    try:
        if "text" in prior:                    # an error row has a text verdict only when the text passed
            out["text"], flagged, reason = prior["text"], False, ""
        else:
            t = moderator.moderate_text(text)
            out["text"], flagged, reason = t.categories, t.flagged, t.reason
        flagged_by = ["text"] if flagged else []
        reasons = [reason] if flagged else []
        if not flagged:                      # images only when the text passed: a flag is already final
            out["image"], out["frames_done"] = dict(prior.get("image") or {}), int(prior.get("frames_done", 0))
            for i, f in enumerate(frames):
                if i < out["frames_done"]:
                    continue
                im = moderator.moderate_image(encode_jpeg(f, MODERATION_SIDE, 85), {"scene": scene, "video_id": video["video_id"]})
                for c, s in im.categories.items():
                    out["image"][c] = max(out["image"].get(c, 0), s)
                out["frames_done"] = i + 1
                if im.flagged:
                    flagged_by.append(f"frame {i}")
                    reasons.append(im.reason)
                    break
            if not out["image"]:
                del out["image"]
    except Exception as exc:  # noqa: BLE001 - recorded as an error check, retried next run
        log.warning("%s: moderation failed: %s", video["video_id"], exc)
        return row(video, "moderation", None, None, out | {"error": f"{type(exc).__name__}: {exc}"[:500]})
    out.pop("frames_done", None)              # only an unfinished check needs to know where it stopped
    out |= {"flagged_by": flagged_by, "reason": "; ".join(reasons)}
    return row(video, "moderation", not flagged_by, None, out)


def _norm(text: str | None) -> str:
    return " " + " ".join(re.findall(r"[a-z0-9]+", (text or "").lower())) + " "


def text_relevance(video: dict, rel, captions: str, candidates: list[dict]) -> dict:
    """Score the video against every knowledge point whose search found it; the best one becomes its KP.

    `candidates`: dicts with kp_id, name, statement (the video's collect owner first, so it wins ties).
    """
    from jobs.screening.relevance import kp_text

    cands = candidates or [{"kp_id": video["kp_id"], "name": video.get("kp_name"), "statement": video.get("kp_statement")}]
    meta = f"{video.get('title') or ''}. {video.get('description') or ''}"
    scores = rel.score_many([kp_text(c["name"] or "", c["statement"]) for c in cands], meta, captions)
    title = _norm(video.get("title"))
    # a KP the title names outright beats closer embeddings (MiniLM barely separates BFS from DFS)
    best = max(range(len(cands)), key=lambda i: (bool(_norm(cands[i]["name"])) and _norm(cands[i]["name"]) in title,
                                                 round(scores[i], 6), -i))
    top = sorted(zip(scores, cands), key=lambda t: -t[0])[:5]
    r = row(video, "text_relevance", None, round(scores[best], 6),
            {"model": rel.model, "backend": rel.backend, "kp_name": cands[best]["name"],
             "candidates": [{"kp_id": c["kp_id"], "name": c["name"], "score": round(sc, 4)} for sc, c in top]})
    r["kp_id"] = cands[best]["kp_id"]
    return r


def visual_requests(videos: list[dict], frames_by_id: dict, layer, settings) -> list:
    """One relevance_judge ChatRequest per video that has frames (ModelFrames by video id)."""
    from jobs.prompts import load_prompt, render
    from jobs.prompts.messages import user_content
    from jobs.sources.base import ChatRequest, RelevanceVerdict

    prompt = load_prompt("judge_relevance", settings=settings)
    reqs = []
    for v in videos:
        parts = layer.image_parts(frames_by_id[v["video_id"]])
        text = render(prompt, kp_name=v.get("kp_name") or "", kp_statement=v.get("kp_statement") or "")
        reqs.append(ChatRequest(
            role="relevance_judge", task="judge_relevance", schema=RelevanceVerdict, prompt_version=prompt.id,
            messages=[{"role": "user", "content": user_content(text, parts, "", "Reply with JSON only.")}],
            context={"video_id": v["video_id"], "n_frames": len(parts), "kp_id": v["kp_id"],
                     "kp_name": v.get("kp_name")}))
    return reqs


def visual_rows(videos: list[dict], results: list) -> list[dict]:
    out = []
    for v, res in zip(videos, results):
        if res.parsed is None:
            out.append(row(v, "visual_relevance", None, None, {"verdict": "error", "error": res.error,
                                                               "call_id": res.call_id}))
        else:
            p = res.parsed
            out.append(row(v, "visual_relevance", bool(p.relevant), float(p.score),
                           {"verdict": "relevant" if p.relevant else "irrelevant", "reason": p.reason,
                            "model": res.model, "call_id": res.call_id}))
    return out


def unavailable_rows(videos: list[dict], why: str) -> list[dict]:
    return [row(v, "visual_relevance", None, None, {"verdict": "unavailable", "error": why}) for v in videos]


def decide(video: dict, checks: dict[str, dict], text_threshold: float, require_visual: bool) -> dict:
    """The `screening` row from the check rows of one video."""
    reasons: list[str] = []
    m = checks.get("media")
    mdet = json.loads(m["detail"]) if m and m.get("detail") else {}
    if m is None or not m["passed"]:
        reasons.append(mdet.get("reason", "download"))
    mod = checks.get("moderation")
    mod_det = json.loads(mod["detail"]) if mod and mod.get("detail") else {}
    moderation = "pending" if mod is None else "error" if mod["passed"] is None else (
        "pass" if mod["passed"] else "flagged")
    pending: list[str] = []                  # checks not made yet (errors included): fail closed, retried later
    if moderation == "flagged":
        reasons.append("moderation")
    elif moderation in ("error", "pending"):
        pending.append("moderation_unchecked")
    t = checks.get("text_relevance")
    score = t["score"] if t else None
    if t is None:
        pending.append("text_relevance_unchecked")
    elif score is not None and score < text_threshold:
        reasons.append("text_relevance")
    vis = checks.get("visual_relevance")
    vdet = json.loads(vis["detail"]) if vis and vis.get("detail") else {}
    verdict = vdet.get("verdict", "pending" if vis is None else "error")
    if vis is not None and vis["passed"] is False:
        reasons.append("visual_relevance")
    elif require_visual and verdict in ("unavailable", "error", "pending"):
        pending.append("visual_relevance_unchecked")
    decision = "reject" if reasons else "pending" if pending else "keep"
    reasons = reasons or pending
    tdet = json.loads(t["detail"]) if t and t.get("detail") else {}
    kp_id = (t or {}).get("kp_id") or video["kp_id"]          # the best-fitting KP among those that found it
    return {"video_id": video["video_id"], "subject_id": video["subject_id"], "kp_id": kp_id,
            "decision": decision, "reasons": reasons, "text_relevance": score,
            "text_threshold": text_threshold, "visual_relevance": vis["score"] if vis else None,
            "visual_verdict": verdict, "moderation": moderation,
            "moderation_detail": json.dumps({k: v for k, v in mod_det.items() if k != "moderator"}, sort_keys=True)
            if mod else None, "moderator": mod_det.get("moderator"), "relevance_model": tdet.get("model")}
