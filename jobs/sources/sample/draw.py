"""Slide drawing shared by all scenes of the sample world (stand-in lecture look), with OpenCV on RGB arrays.

Every video gets a seeded, smooth backdrop so that different videos have clearly different perceptual hashes
(decontamination must not confuse two unrelated lectures that share the template), while one video's frames
stay alike. Layout: title bar on top, an animation box on one side, a notes box on the other, a clock.
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

FONT = cv2.FONT_HERSHEY_SIMPLEX
BOLD = cv2.FONT_HERSHEY_DUPLEX
INK = (25, 25, 35)
ACCENT = (200, 60, 40)
BLUE = (40, 90, 200)
GREEN = (40, 150, 70)
GREY = (130, 130, 140)


@dataclass
class Layout:
    width: int
    height: int
    box: tuple[int, int, int, int]         # animation area x0, y0, x1, y1
    notes: tuple[int, int, int, int]       # notes panel
    title_h: int = 36


def layout_for(rng: np.random.Generator, width: int = 640, height: int = 360) -> Layout:
    left = bool(rng.integers(0, 2))
    ax0, ax1 = (10, 440) if left else (200, 630)
    nx0, nx1 = (450, 630) if left else (10, 190)
    return Layout(width, height, (ax0, 46, ax1, height - 34), (nx0, 46, nx1, height - 34))


def backdrop(rng: np.random.Generator, width: int, height: int) -> np.ndarray:
    """A smooth random luminance field tinted with a random hue: distinct per video in pHash terms."""
    grid = rng.uniform(40, 250, size=(3, 5)).astype(np.float32)
    field = cv2.resize(grid, (width, height), interpolation=cv2.INTER_CUBIC)
    tint = rng.uniform(0.75, 1.0, size=3).astype(np.float32)
    img = np.clip(field[..., None] * tint[None, None, :], 0, 255)
    return img.astype(np.uint8)


def text(img, s: str, org, scale=0.5, color=INK, thick=1, font=FONT) -> None:
    cv2.putText(img, s, (int(org[0]), int(org[1])), font, scale, color, thick, cv2.LINE_AA)


def text_width(s: str, scale=0.5, thick=1, font=FONT) -> int:
    return cv2.getTextSize(s, font, scale, thick)[0][0]


def wrap(s: str, max_px: int, scale=0.45, font=FONT) -> list[str]:
    lines, cur = [], ""
    for word in s.split():
        cand = f"{cur} {word}".strip()
        if cur and text_width(cand, scale, 1, font) > max_px:
            lines.append(cur)
            cur = word
        else:
            cur = cand
    return lines + ([cur] if cur else [])


def panel(img, rect, alpha=0.66, color=(250, 250, 246)) -> None:
    """A translucent slide panel (the backdrop still shows through, keeping the hash distinct)."""
    x0, y0, x1, y1 = rect
    roi = img[y0:y1, x0:x1].astype(np.float32)
    img[y0:y1, x0:x1] = (roi * (1 - alpha) + np.array(color, np.float32) * alpha).astype(np.uint8)
    cv2.rectangle(img, (x0, y0), (x1 - 1, y1 - 1), GREY, 1)


def slide(bg: np.ndarray, lay: Layout, title: str, subtitle: str, notes: list[str]) -> np.ndarray:
    """The static part of the animation slide."""
    img = bg.copy()
    cv2.rectangle(img, (0, 0), (lay.width, lay.title_h), (30, 40, 70), -1)
    text(img, title[:60], (10, 24), 0.62, (250, 250, 250), 1, BOLD)
    text(img, subtitle[:40], (lay.width - 10 - text_width(subtitle[:40], 0.4), 24), 0.4, (200, 210, 230))
    panel(img, lay.box)
    panel(img, lay.notes, alpha=0.5)
    x0, y0, x1, y1 = lay.notes
    rng = np.random.default_rng(int(bg[::37, ::53].sum()))         # a "figure" placeholder, placed per video
    fh, fy = int(rng.integers(40, 110)), int(rng.integers(y0 + 100, y1 - 40))
    shade = tuple(int(v) for v in rng.integers(30, 120, size=3))
    cv2.rectangle(img, (x0 + 10, fy), (x1 - 10, min(y1 - 6, fy + fh)), shade, -1)
    y = y0 + 22
    for note in notes:
        for line in wrap(note, x1 - x0 - 16, 0.42):
            text(img, line, (x0 + 8, y), 0.42)
            y += 17
        y += 8
    return img


def title_card(bg: np.ndarray, title: str, subtitle: str, channel: str) -> np.ndarray:
    img = bg.copy()
    h, w = img.shape[:2]
    panel(img, (40, h // 2 - 80, w - 40, h // 2 + 80), alpha=0.85)
    y = h // 2 - 35
    for line in wrap(title, w - 120, 0.9, BOLD)[:2]:
        text(img, line, ((w - text_width(line, 0.9, 2, BOLD)) // 2, y), 0.9, INK, 2, BOLD)
        y += 38
    text(img, subtitle, ((w - text_width(subtitle, 0.5)) // 2, y + 6), 0.5, GREY)
    text(img, channel, ((w - text_width(channel, 0.42)) // 2, y + 34), 0.42, BLUE)
    return img


def clock(img, t: float, lay: Layout) -> None:
    """The on-screen clock (video time in seconds); questions refer to its readings."""
    x0, _, _, y1 = lay.box
    s = f"t = {t:5.1f} s"
    cv2.rectangle(img, (x0 + 4, y1 + 4), (x0 + 12 + text_width(s, 0.5), y1 + 28), (20, 20, 20), -1)
    text(img, s, (x0 + 8, y1 + 22), 0.5, (120, 255, 120))


def label_box(img, s: str, org, scale=0.5, fg=INK, bg=(255, 255, 255)) -> None:
    w = text_width(s, scale)
    x, y = int(org[0]), int(org[1])
    cv2.rectangle(img, (x - 3, y - int(22 * scale) - 3), (x + w + 3, y + 5), bg, -1)
    text(img, s, (x, y), scale, fg)
