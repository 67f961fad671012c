"""Frames as chat image parts: JPEG, base64 data URLs, a configurable count, longest side and quality."""
from __future__ import annotations

import base64

import cv2
import numpy as np


def pick(frames: list, count: int | None) -> list:
    """`count` frames evenly spread over `frames` (all of them when count is None or >= len)."""
    if count is None or count >= len(frames):
        return list(frames)
    if count <= 0:
        return []
    idx = np.linspace(0, len(frames) - 1, count).round().astype(int)
    return [frames[i] for i in idx]


def encode_jpeg(frame: np.ndarray, max_side: int = 512, quality: int = 85) -> bytes:
    """RGB (H, W, 3) uint8 -> JPEG bytes, downscaled so that the longest side is at most `max_side`."""
    if frame.ndim != 3 or frame.shape[2] != 3:
        raise ValueError(f"frame must be RGB (H, W, 3), got shape {frame.shape}")
    h, w = frame.shape[:2]
    scale = max_side / max(h, w)
    if scale < 1:
        frame = cv2.resize(frame, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA)
    ok, buf = cv2.imencode(".jpg", cv2.cvtColor(np.ascontiguousarray(frame), cv2.COLOR_RGB2BGR),
                           [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    if not ok:
        raise ValueError("JPEG encoding failed")
    return buf.tobytes()


def frames_to_parts(frames: list[np.ndarray], max_side: int = 512, quality: int = 85, count: int | None = None,
                    detail: str | None = None) -> list[dict]:
    """OpenAI chat `image_url` parts for the frames (evenly subsampled to `count` when given)."""
    parts = []
    for f in pick(frames, count):
        url = "data:image/jpeg;base64," + base64.b64encode(encode_jpeg(f, max_side, quality)).decode()
        image = {"url": url} if detail is None else {"url": url, "detail": detail}
        parts.append({"type": "image_url", "image_url": image})
    return parts
