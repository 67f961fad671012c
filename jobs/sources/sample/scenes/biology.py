"""Mitosis scene, and the off-topic filler used by planted items, of the sample world (stand-in).

Stage names never appear on screen: naming the stage seen at a clock time needs both watching and knowledge.
"""
from __future__ import annotations

import math

import cv2
import numpy as np

from .. import draw as D
from ..facts import BASIC, KEP, KIR, fact, int_distractors, num_distractors, pick
from ..spec import INTRO_S

STAGES = ["Interphase", "Prophase", "Metaphase", "Anaphase", "Telophase", "Cytokinesis"]
STAGE_POOL = STAGES + ["Prometaphase", "G1 phase", "S phase", "G2 phase", "Meiosis I", "Interkinesis"]
CHROMO_COLORS = [(200, 60, 60), (60, 90, 200), (60, 160, 80), (190, 120, 30), (150, 60, 170), (40, 150, 160)]


def plan_mitosis(spec, rng: np.random.Generator) -> dict:
    kp_name = spec.kp["name"]
    n = int(rng.choice([2, 3, 4]))
    lens = [float(rng.choice([4.0, 5.0, 6.0, 7.0, 8.0])) for _ in STAGES]
    starts, t = [], INTRO_S + 1.0
    for L in lens:
        starts.append(t)
        t += L
    duration = float(min(120, max(30, math.ceil(t + 2))))
    t_ana = starts[3]
    events = [{"t": round(s, 2), "what": f"{st.lower()} begins"} for s, st in zip(starts, STAGES)]
    events.insert(4, {"t": round(t_ana, 2), "what": "sister chromatids start to separate"})
    choices = [s for s in STAGES[1:5] if s != kp_name]
    target = str(rng.choice(choices))
    k = STAGES.index(target)
    t_q = round(starts[k] + lens[k] / 2, 1)
    facts = [
        fact("separation_time", BASIC, "At what clock time do the chromatids begin moving apart?", f"{t_ana:.1f} s",
             num_distractors(t_ana, "{:.1f} s", rng), [
                 ("The aligned chromosomes split and the halves head to opposite poles.", "video"),
                 (f"The clock reads {t_ana:.1f} s when that starts.", "video")], [(t_ana - 1, t_ana + 2)]),
        fact("stage_at", KEP, f"Which stage of mitosis is shown at t = {t_q:.1f} s?", target,
             pick(STAGE_POOL, target, rng), [
                 (f"At t = {t_q:.1f} s: {_look(target)}", "video"),
                 (f"That arrangement defines {target.lower()}.", "knowledge")], [(starts[k], starts[k] + lens[k])]),
        fact("chromatids", KIR, "How many chromatids in total move apart during anaphase?", str(2 * n),
             int_distractors(2 * n, rng, 1), [
                 (f"{n} X-shaped chromosomes line up at the cell's equator.", "video"),
                 ("Each replicated chromosome consists of two sister chromatids, and all separate in anaphase.",
                  "knowledge"),
                 (f"2 * {n} = {2 * n} chromatids.", "knowledge")], [(starts[2], starts[4])]),
    ]
    return {"duration_s": duration, "facts": facts, "events": events,
            "params": {"n_chromosomes": n, "stage_starts": starts, "stage_lengths": lens,
                       "seed_xy": rng.uniform(-0.5, 0.5, size=(n, 2)).round(3).tolist()},
            "notes": ["A single animal cell.", "Chromosomes coloured by pair."]}


def _look(stage: str) -> str:
    return {"Prophase": "chromosomes are condensing inside a fading nucleus.",
            "Metaphase": "chromosomes are lined up across the middle of the cell on the spindle.",
            "Anaphase": "chromatids are being pulled to opposite ends of the cell.",
            "Telophase": "two new nuclei are forming at the poles of an elongated cell."}[stage]


def draw_mitosis(img, t: float, p: dict, lay: D.Layout) -> None:
    x0, y0, x1, y1 = lay.box
    cx, cy = (x0 + x1) // 2, (y0 + y1) // 2 - 6
    starts, lens = p["stage_starts"], p["stage_lengths"]
    k = max([i for i, s in enumerate(starts) if t >= s], default=0)
    f = min(max((t - starts[k]) / lens[k], 0.0), 1.0)
    stage = STAGES[k] if t >= starts[0] else "Interphase"
    n = p["n_chromosomes"]
    rx = 120 + (40 * f if stage == "Telophase" else 40 if stage == "Cytokinesis" else 0)
    if stage == "Cytokinesis":
        pinch = 1 - 0.85 * f
        for sx in (-1, 1):
            cv2.ellipse(img, (int(cx + sx * 80), cy), (int(rx * 0.55), 95), 0, 0, 360, (250, 215, 200), -1)
            cv2.ellipse(img, (int(cx + sx * 80), cy), (int(rx * 0.55), 95), 0, 0, 360, D.INK, 2, cv2.LINE_AA)
        cv2.ellipse(img, (cx, cy), (40, int(95 * pinch)), 0, 0, 360, (250, 215, 200), -1)
    else:
        cv2.ellipse(img, (cx, cy), (int(rx), 95), 0, 0, 360, (250, 215, 200), -1)
        cv2.ellipse(img, (cx, cy), (int(rx), 95), 0, 0, 360, D.INK, 2, cv2.LINE_AA)
    if stage in ("Interphase", "Prophase"):
        alpha = 1.0 if stage == "Interphase" else 1 - f
        col = tuple(int(235 - 60 * alpha) for _ in range(3))
        cv2.circle(img, (cx, cy), 48, col, -1 if alpha > 0.3 else 1, cv2.LINE_AA)
    if stage in ("Metaphase", "Anaphase"):
        for sx in (-1, 1):
            for j in range(n):
                cv2.line(img, (cx + sx * 110, cy), (cx, int(cy - 50 + 100 * (j + 0.5) / n)), (170, 170, 170), 1)
    for j in range(n):
        col = CHROMO_COLORS[j % len(CHROMO_COLORS)]
        line_y = cy - 50 + 100 * (j + 0.5) / n
        sx, sy = p["seed_xy"][j]
        if stage == "Prophase":
            _x_shape(img, cx + sx * 70, cy + sy * 70, col, 0.4 + 0.6 * f)
        elif stage == "Metaphase":
            _x_shape(img, cx + sx * 70 * (1 - min(1, f * 3)), cy + (sy * 70) * (1 - min(1, f * 3))
                     + (line_y - cy) * min(1, f * 3), col, 1.0)
        elif stage == "Anaphase":
            for side in (-1, 1):
                _bar(img, cx + side * (6 + 90 * f), line_y, col)
        elif stage in ("Telophase", "Cytokinesis"):
            for side in (-1, 1):
                px = cx + side * (96 + (20 if stage == "Cytokinesis" else 0))
                _bar(img, px, cy - 20 + 40 * (j + 0.5) / n, col, short=True)
    if stage in ("Telophase", "Cytokinesis"):
        for side in (-1, 1):
            px = cx + side * (96 + (20 if stage == "Cytokinesis" else 0))
            r = int(22 + 8 * (f if stage == "Telophase" else 1))
            cv2.circle(img, (int(px), cy), r, (150, 150, 160), 1, cv2.LINE_AA)
    D.clock(img, t, lay)


def _x_shape(img, x, y, col, s) -> None:
    d = 14 * s
    cv2.line(img, (int(x - d), int(y - d)), (int(x + d), int(y + d)), col, 5, cv2.LINE_AA)
    cv2.line(img, (int(x - d), int(y + d)), (int(x + d), int(y - d)), col, 5, cv2.LINE_AA)


def _bar(img, x, y, col, short=False) -> None:
    d = 8 if short else 13
    cv2.line(img, (int(x), int(y - d)), (int(x), int(y + d)), col, 5, cv2.LINE_AA)


# ------------------------------------------------------------------------------------------------ off-topic filler

def plan_offtopic(spec, rng: np.random.Generator) -> dict:
    """Moving coloured blobs (food, game tiles): nothing to learn; no facts."""
    k = int(rng.integers(5, 9))
    return {"duration_s": float(30 + int(rng.integers(0, 6))), "facts": [], "events": [],
            "params": {"blobs": rng.uniform(0, 1, size=(k, 4)).round(3).tolist(),
                       "style": spec.options.get("style", "cooking")},
            "notes": spec.options.get("notes", ["Have fun!"])}


def draw_offtopic(img, t: float, p: dict, lay: D.Layout) -> None:
    x0, y0, x1, y1 = lay.box
    for j, (a, b, c, d) in enumerate(p["blobs"]):
        x = x0 + 30 + (x1 - x0 - 60) * (0.5 + 0.45 * math.sin(t * (0.3 + c) + 6 * a))
        y = y0 + 30 + (y1 - y0 - 60) * (0.5 + 0.45 * math.cos(t * (0.2 + d) + 6 * b))
        col = CHROMO_COLORS[j % len(CHROMO_COLORS)]
        if p["style"] == "gaming":
            cv2.rectangle(img, (int(x) - 14, int(y) - 14), (int(x) + 14, int(y) + 14), col, -1)
        else:
            cv2.circle(img, (int(x), int(y)), 16, col, -1, cv2.LINE_AA)
