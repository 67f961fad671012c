"""Planted bad items of the sample world (stand-in): each one names the filter that must catch it.

Expected filters (TABLES.md): collect:license, collect:duration, collect:captions, screen:text_relevance,
screen:moderation, screen:corrupt, decontaminate:phash, decontaminate:youtube_id, verify:video_dependency,
verify:self_consistency, verify:cot_validation.
"""
from __future__ import annotations

import json
import logging
import re
from dataclasses import replace
from pathlib import Path

from .spec import VideoSpec, load_scene_kps

log = logging.getLogger(__name__)

# Planted candidate flaws: each is bad because of what the generator writes (its content), and one check is meant to
# catch it. The world's truth stays clean; `fact["flaw"]` only tells the generator stand-in which mistake to make.
FLAW_CHECK = {"answerable_from_text": "video_dependency",       # the captions give the answer away
              "answerable_from_one_frame": "video_dependency",  # asks about a state on screen all video long
              "self_contradictory": "cot_validation",           # the chain restates a measured value differently
              "ungrounded_step": "cot_validation",              # a step no frame or standard knowledge supports
              "mislabelled_answer": "self_consistency",         # the generator labels a wrong option / reference
              "ambiguous": "self_consistency"}                  # a loose wording with several defensible readings
FLAW_FILTER = {k: f"verify:{v}" for k, v in FLAW_CHECK.items()}
# (regular item key, fact id, flaw): facts the generator sees at its default 8 frames (2 inside the evidence). One
# or two of each kind: every planted candidate costs verification calls (the calls-per-verified goal of verify).
FLAWS = [("kp/oscillator/2", "frequency", "answerable_from_text"),
         ("kp/ecg/2", "heart_rate", "answerable_from_text"),
         ("kp/oscillator/3", "block_mass", "answerable_from_one_frame"),
         ("kp/ecg/1", "heart_rate", "self_contradictory"),
         ("kp/oscillator/0", "length", "ungrounded_step"),
         ("kp/graph_search/3", "order", "mislabelled_answer"),
         ("kp/oscillator/4", "count", "ambiguous")]
UNSAFE_TERMS = ["gore", "graphic violence", "kill", "blood", "nsfw"]       # what the unsafe metadata uses
# Benchmark-like originals: (item id, scene type, kp index, variant); rendered outside the corpus.
BENCH = [("sample-bench-0", "oscillator", 1, 1), ("sample-bench-1", "circuit", 1, 1)]
BENCH_MIN_S = 100.0
# Re-encoded copies in the corpus: (plant name, original index, trim s, width, height, bitrate)
COPIES = [("copy_resized_small", 0, 3.0, 480, 270, 200_000), ("copy_resized_large", 0, 5.0, 854, 480, 600_000),
          ("copy_low_bitrate", 1, 4.0, 480, 270, 150_000)]


def _kp(scene_type: str, i: int) -> dict:
    return load_scene_kps()[scene_type][i]


def planted_items(scenes) -> list[dict]:
    """Ground truth for measuring the checks (table `planted_items`): one row per planted fact of these scene
    records, with the question the generator asks and the check meant to catch it. Never read by a check."""
    rows = []
    for s in scenes:
        for f in (s or {}).get("facts", []):
            kind = f.get("flaw")
            if kind in FLAW_CHECK:
                q = f["vague"]["question"] if kind == "ambiguous" else f["question"]
                rows.append({"video_id": s["video_id"], "question": q, "kind": kind,
                             "expected_check": FLAW_CHECK[kind], "fact_id": f["fact_id"]})
    return rows


def with_flaws(specs: list[VideoSpec]) -> tuple[list[VideoSpec], list[dict]]:
    """Regular specs with the planted fact flaws in their options, and the manifest rows for them."""
    by_key = {s.key: s for s in specs}
    manifest = []
    for key, fact_id, flaw in FLAWS:
        s = by_key[key]
        flaws = {**s.options.get("flaws", {}), fact_id: flaw}
        by_key[key] = replace(s, options={**s.options, "flaws": flaws})
        manifest.append({"video_id": s.video_id, "kind": f"flaw:{flaw}", "expected_filter": FLAW_FILTER[flaw],
                         "fact_id": fact_id})
    return [by_key[s.key] for s in specs], manifest


def bench_specs(seed: int) -> list[tuple[str, VideoSpec]]:
    out = []
    for item_id, st, i, variant in BENCH:
        out.append((item_id, VideoSpec(key=f"bench/{item_id}", scene_type=st, kp=_kp(st, i), seed=seed,
                                       options={"variant": variant, "min_duration_s": BENCH_MIN_S})))
    return out


def benchmark_youtube_id(benchmarks_dir: str | Path) -> str | None:
    """The first YouTube id in MMVU's validation.json (field youtube_url), or None when it is not there."""
    path = Path(benchmarks_dir) / "mmvu" / "validation.json"
    try:
        rows = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        log.warning("sample world: no youtube_id plant (%s: %s)", path, exc)
        return None
    for row in rows:
        m = re.search(r"(?:v=|youtu\.be/|/shorts/|/embed/)([A-Za-z0-9_-]{11})", str(row.get("youtube_url") or ""))
        if m:
            return m.group(1)
    return None


def planted_specs(seed: int, benchmarks_dir: str | Path) -> list[tuple[VideoSpec, str]]:
    """(spec, expected_filter) of every planted corpus item (copies carry `copy_of` = original spec key)."""
    def spec(name, st, kp, **opts):
        return VideoSpec(key=f"plant/{name}", scene_type=st, kp=kp, seed=seed, planted=name, options=opts)

    plants = [
        (spec("offtopic_cooking", "offtopic", _kp("sorting", 0), style="cooking",
              title="Bubble Tea at Home: Sorting Tapioca Pearls by Size | Easy Dessert Recipe",
              description="My favourite bubble tea recipe! We sort the pearls, cook them in brown sugar syrup and "
                          "shake everything with milk tea. Ingredients in the comments.",
              tags=["bubble tea", "recipe", "cooking", "dessert", "sort"], screen_title="Bubble Tea at Home",
              screen_subtitle="Easy dessert recipe", channel=["UCsampleKitchenChannel01", "Sunny Kitchen"],
              notes=["Brown sugar syrup", "Tapioca pearls"]), "screen:text_relevance"),
        (spec("offtopic_gaming", "offtopic", _kp("oscillator", 0), style="gaming",
              title="Minecraft Pendulum Door Trap - Redstone Oscillator Tutorial (Survival Let's Play)",
              description="Building a pendulum piston door and a redstone oscillator clock in survival. "
                          "Simple harmonic motion? Nope, just redstone. Subscribe for more builds!",
              tags=["minecraft", "redstone", "pendulum", "oscillator", "gaming"], screen_title="Pendulum Door Trap",
              screen_subtitle="Survival let's play", channel=["UCsampleBlockBuilders001", "BlockBuilders"],
              notes=["Redstone clock", "Piston door"]), "screen:text_relevance"),
        (spec("offtopic_vlog", "offtopic", _kp("supply_demand", 0), style="gaming",
              title="Supply Run Vlog: Why Demand for Loot Shifts Every Season | Battle Royale Highlights",
              description="Squad supply run, market for skins crashed, the demand for loot shifts again. "
                          "Best moments of the week.", tags=["vlog", "gaming", "supply", "demand", "shift"],
              screen_title="Supply Run Vlog", screen_subtitle="Season highlights",
              channel=["UCsampleLootGoblinVlogs1", "Loot Goblin Vlogs"], notes=["Loot", "Highlights"]),
         "screen:text_relevance"),
        (spec("non_cc_license", "oscillator", _kp("oscillator", 0), variant=0, license="youtube", no_mp4=True),
         "collect:license"),
        (spec("over_30_minutes", "titration", _kp("titration", 4), variant=4, duration_iso="PT45M",
              no_mp4=True, title="Titration curve: full laboratory session (45 min)"), "collect:duration"),
        (spec("no_captions", "supply_demand", _kp("supply_demand", 2), variant=2, captions=False),
         "collect:captions"),
        (spec("unsafe_metadata", "mitosis", _kp("mitosis", 0), variant=0,
              title="Stages of mitosis - GORE edition: we kill the cell (graphic violence, blood, NSFW)",
              description="Cell division stages shown with graphic violence and gore. Blood everywhere, NSFW. "
                          "Watch the cell get killed in slow motion."), "screen:moderation"),
        (spec("unsafe_frames", "ecg", _kp("ecg", 0), variant=0, unsafe_frames=True), "screen:moderation"),
        (spec("truncated_mp4", "sorting", _kp("sorting", 2), variant=2, truncate=0.4), "screen:corrupt"),
        (spec("zero_byte_mp4", "graph_search", _kp("graph_search", 1), variant=1, zero_bytes=True),
         "screen:corrupt"),
    ]
    yt = benchmark_youtube_id(benchmarks_dir)
    if yt:
        plants.append((spec("benchmark_youtube_id", "projectile", _kp("projectile", 1), variant=1, video_id=yt),
                       "decontaminate:youtube_id"))
    origs = bench_specs(seed)
    for name, k, trim, w, h, br in COPIES:
        _, orig = origs[k]
        s = VideoSpec(key=f"plant/{name}", scene_type=orig.scene_type, kp=orig.kp, seed=seed, width=w, height=h,
                      planted=name, options={**orig.options, "copy_of": orig.key, "trim_s": trim, "bitrate": br})
        plants.append((s, "decontaminate:phash"))
    return plants
