"""Rendering of sample-world videos (stand-in lectures): scene record, frames, mp4, captions, metadata.

`render_item` runs in a worker process and writes one cache directory:
    <video_id>.mp4, <video_id>.en.vtt (when captioned), item.json (metadata + scene record), DONE.
`render_benchmark_lecture` writes a long lecture video for the frames benchmark.
"""
from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np

from . import draw as D
from .captions import check_captions, narration, vtt_text
from .encode import encode_frames, reencode, truncate
from .facts import apply_flaw
from .metadata import video_item
from .scenes import SCENES
from .spec import GOP_SECONDS, INTRO_S, VideoSpec, load_scene_kps

cv2.setNumThreads(1)


def plan_scene(spec: VideoSpec) -> dict:
    """The scene record (TABLES.md) of a spec, with its plant records (`flaw`) set. No drawing."""
    plan_fn, _ = SCENES[spec.scene_type]
    plan = plan_fn(spec, np.random.default_rng(spec.rng_seed("plan")))
    duration = max(plan["duration_s"], float(spec.options.get("min_duration_s", 0)))
    flaws = spec.options.get("flaws", {})
    for f in plan["facts"]:
        apply_flaw(f, flaws.get(f["fact_id"]))
    unknown = set(flaws) - {f["fact_id"] for f in plan["facts"]}
    if unknown:
        raise ValueError(f"{spec.key}: flaws name unknown facts {sorted(unknown)}")
    return {"video_id": spec.video_id, "scene_type": spec.scene_type, "kp": dict(spec.kp),
            "duration_s": float(duration), "fps": spec.fps, "width": spec.width, "height": spec.height,
            "params": plan["params"], "events": plan["events"], "facts": plan["facts"],
            "unsafe_frames": bool(spec.options.get("unsafe_frames", False)), "_notes": plan["notes"]}


def frames(spec: VideoSpec, scene: dict):
    """RGB frames of the video: a title card for INTRO_S seconds, then the animated slide."""
    _, draw_fn = SCENES[spec.scene_type]
    look = np.random.default_rng(spec.rng_seed("look"))
    lay = D.layout_for(look, spec.width, spec.height)
    bg = D.backdrop(look, spec.width, spec.height)
    kp = spec.kp
    o = spec.options
    title = o.get("screen_title") or kp["name"]
    sub = o.get("screen_subtitle") or f"{kp['course']} - {kp['lecture']}"
    channel = (o.get("channel") or [None, f"Open {kp['subject']} Lectures"])[1]
    card = D.title_card(bg, title, sub, channel)
    static = D.slide(bg, lay, title, o.get("screen_subtitle") or kp["lecture"], scene["_notes"])
    n = int(round(scene["duration_s"] * spec.fps))
    for i in range(n):
        t = i / spec.fps
        if t < INTRO_S:
            yield card
            continue
        img = static.copy()
        draw_fn(img, t, scene["params"], lay)
        if scene["unsafe_frames"] and t >= INTRO_S + 4:
            _unsafe_overlay(img, lay, i)
        yield img


def _unsafe_overlay(img, lay: D.Layout, i: int) -> None:
    """Stand-in for disturbing imagery: dark red splashes and a warning banner (the scene record flags it)."""
    x0, y0, x1, y1 = lay.box
    rng = np.random.default_rng(i // 8)
    for _ in range(6):
        c = (int(rng.integers(x0, x1)), int(rng.integers(y0, y1)))
        cv2.circle(img, c, int(rng.integers(15, 45)), (120, 0, 0), -1, cv2.LINE_AA)
    D.label_box(img, "GRAPHIC CONTENT", (x0 + 20, y0 + 30), 0.7, (255, 255, 255), (150, 0, 0))


def _write_item(spec: VideoSpec, out: Path, scene: dict, mp4: Path | None) -> dict:
    o = spec.options
    has_captions = o.get("captions", True)
    spoilers = [f["answer"] for f in scene["facts"] if f["flaw"] == "answerable_from_text"]
    lines = narration(spec.scene_type, spec.kp, spoilers)
    vtt = None
    if has_captions:
        text = vtt_text(lines, scene["duration_s"])
        problems = check_captions(text, scene["facts"])
        if problems:
            raise ValueError(f"{spec.key}: caption check failed: {problems}")
        vtt = out / f"{spec.video_id}.en.vtt"
        vtt.write_text(text)
    meta = video_item(spec, scene["duration_s"], has_captions, lines[1 + len(spoilers)])   # never a spoiler
    scene = {k: v for k, v in scene.items() if not k.startswith("_")}
    rec = {"key": spec.key, "video_id": spec.video_id, "spec_hash": spec.spec_hash, "planted": spec.planted,
           "metadata": meta, "scene": scene, "mp4": mp4.name if mp4 else None, "vtt": vtt.name if vtt else None}
    (out / "item.json").write_text(json.dumps(rec, indent=1, sort_keys=True))
    (out / "DONE").write_text(spec.spec_hash)
    return rec


def render_item(spec: VideoSpec, out: Path, source_mp4: Path | None = None) -> dict:
    """Render one spec into cache dir `out` (see module doc). `source_mp4` is the original for copies."""
    out.mkdir(parents=True, exist_ok=True)
    o = spec.options
    if o.get("copy_of"):
        orig = plan_scene(replace(spec, key=o["copy_of"], width=640, height=360,
                                  options={k: v for k, v in o.items() if k in ("variant", "min_duration_s")}))
        scene = _shifted(orig, o["trim_s"], spec)
        mp4 = out / f"{spec.video_id}.mp4"
        reencode(source_mp4, mp4, o["trim_s"], spec.width, spec.height, o["bitrate"], GOP_SECONDS)
        return _write_item(spec, out, scene, mp4)
    scene = plan_scene(spec)
    mp4 = None if o.get("no_mp4") else out / f"{spec.video_id}.mp4"
    if o.get("zero_bytes"):
        mp4.write_bytes(b"")
    elif mp4 is not None:
        encode_frames(mp4, frames(spec, scene), spec.fps, spec.width, spec.height, GOP_SECONDS)
        if o.get("truncate"):
            truncate(mp4, o["truncate"])
    return _write_item(spec, out, scene, mp4)


def _shifted(scene: dict, trim: float, spec: VideoSpec) -> dict:
    """The scene record of a copy that starts `trim` seconds into the original (clock readings unchanged)."""
    s = json.loads(json.dumps(scene))
    s.update(video_id=spec.video_id, width=spec.width, height=spec.height, duration_s=scene["duration_s"] - trim)
    s["events"] = [dict(e, t=round(e["t"] - trim, 2)) for e in s["events"] if e["t"] >= trim]
    for f in s["facts"]:
        f["evidence"] = [[round(max(0.0, a - trim), 2), round(b - trim, 2)] for a, b in f["evidence"] if b > trim]
    return s


def render_benchmark_lecture(path, seconds: float = 360, gop_seconds: float = 2.0, seed: int = 0,
                             fps: float = 30.0) -> Path:
    """A long lecture-like H.264 640x360 mp4 (keyframe every `gop_seconds`), as YouTube serves lectures.

    Slides of 20-45 s, each animating a different scene of the sample world. Used by bench_frames.py.
    """
    path = Path(path)
    rng = np.random.default_rng(seed)
    kps = [(st, kp) for st, rows in load_scene_kps().items() for kp in rows]
    segs, t = [], 0.0
    while t < seconds:
        st, kp = kps[int(rng.integers(0, len(kps)))]
        spec = VideoSpec(key=f"bench-lecture/{seed}/{len(segs)}", scene_type=st, kp=kp, seed=seed,
                         fps=fps, options={"variant": int(rng.integers(0, 5))})
        length = float(rng.uniform(20, 45))
        segs.append((t, min(seconds, t + length), spec, plan_scene(spec)))
        t += length

    def gen():
        k = 0
        for i in range(int(round(seconds * fps))):
            tt = i / fps
            while tt >= segs[k][1]:
                k += 1
            t0, _, spec, scene = segs[k]
            local = tt - t0 + INTRO_S + 1.0
            if k not in _STATIC:
                look = np.random.default_rng(spec.rng_seed("look"))
                lay = D.layout_for(look)
                _STATIC.clear()
                _STATIC[k] = (lay, D.slide(D.backdrop(look, 640, 360), lay, spec.kp["name"],
                                           spec.kp["lecture"], scene["_notes"]))
            lay, static = _STATIC[k]
            img = static.copy()
            SCENES[spec.scene_type][1](img, local, scene["params"], lay)
            yield img

    _STATIC: dict = {}
    encode_frames(path, gen(), fps, 640, 360, gop_seconds, preset="veryfast")   # as YouTube-like as before
    return path
