"""Test media for the frames stage: small lecture-like H.264 videos rendered with OpenCV drawing + PyAV (libx264),
plus the bad files the stage must survive (zero-length, truncated, corrupt, non-video).

Used by tests/unit/test_frames.py, tests/unit/test_phash.py, tests/integration/test_frames_stage.py and
tests/benchmarks/bench_frames.py (when the sample world's renderer is not available).
"""
from __future__ import annotations

from pathlib import Path

import av
import cv2
import numpy as np

_WORDS = ["entropy", "momentum", "titration", "eigenvalue", "graph search", "oscillator", "supply curve",
          "projectile", "enzyme", "recursion", "impedance", "derivative", "photosynthesis", "quicksort"]


def lecture_frame(t: float, width: int, height: int, seed: int, slide_s: float = 20.0) -> np.ndarray:
    """One RGB frame at time t: a slide (title + bullet lines, changing every slide_s) and a moving pointer/shape."""
    rng = np.random.default_rng(seed * 1000 + int(t // slide_s))
    bg = tuple(int(v) for v in rng.integers(180, 256, 3))
    img = np.empty((height, width, 3), np.uint8)
    img[:] = bg
    s = width / 640
    cv2.putText(img, f"Lecture {seed}: {_WORDS[rng.integers(len(_WORDS))]}", (int(20 * s), int(40 * s)),
                cv2.FONT_HERSHEY_SIMPLEX, 1.0 * s, (20, 20, 90), max(1, int(2 * s)), cv2.LINE_AA)
    for i in range(4):
        line = " ".join(_WORDS[j] for j in rng.integers(0, len(_WORDS), 3))
        cv2.putText(img, f"- {line}", (int(30 * s), int((90 + 45 * i) * s)), cv2.FONT_HERSHEY_SIMPLEX,
                    0.7 * s, (30, 30, 30), max(1, int(s)), cv2.LINE_AA)
    # a slide-specific figure (large, low-frequency structure: what a pHash sees), then an animated diagram
    x0, y0 = int(rng.integers(0, width // 2)), int(rng.integers(height // 4, height // 2))
    shade = tuple(int(v) for v in rng.integers(0, 120, 3))
    if rng.random() < 0.5:
        cv2.rectangle(img, (x0, y0), (x0 + width // 3, y0 + height // 3), shade, -1)
    else:
        cv2.ellipse(img, (x0 + width // 6, y0 + height // 6), (width // 6, height // 5), 0, 0, 360, shade, -1)
    # an animated diagram on the right and a moving pointer: motion inside the slide
    cx = int(width * (0.75 + 0.12 * np.sin(t * 1.3)))
    cy = int(height * (0.55 + 0.2 * np.cos(t * 0.9)))
    cv2.circle(img, (cx, cy), int(25 * s), (200, 40, 40), -1)
    cv2.rectangle(img, (int(width * 0.6), int(height * 0.8)),
                  (int(width * (0.6 + 0.35 * ((t % slide_s) / slide_s))), int(height * 0.85)), (40, 140, 40), -1)
    cv2.putText(img, f"{t:6.2f}s", (int(width - 110 * s), int(height - 12 * s)), cv2.FONT_HERSHEY_SIMPLEX,
                0.5 * s, (0, 0, 0), 1, cv2.LINE_AA)
    return img


def render_video(path: Path, seconds: float = 6.0, fps: int = 24, size: tuple[int, int] = (320, 180),
                 gop_s: float = 2.0, seed: int = 0, faststart: bool = False, bframes: int = 2,
                 preset: str = "ultrafast", slide_s: float = 20.0) -> Path:
    """Render an H.264 (yuv420p) mp4 with a keyframe every gop_s seconds (fixed GOP, no scene-cut keyframes)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    w, h = size
    gop = max(1, int(round(gop_s * fps)))
    opts = {"movflags": "+faststart"} if faststart else {}
    with av.open(str(path), "w", options=opts) as out:
        st = out.add_stream("libx264", rate=fps)
        st.width, st.height, st.pix_fmt = w, h, "yuv420p"
        st.codec_context.gop_size = gop
        st.codec_context.options = {"preset": preset, "bf": str(bframes), "keyint_min": str(gop),
                                    "sc_threshold": "0", "crf": "28"}
        for i in range(int(round(seconds * fps))):
            frame = av.VideoFrame.from_ndarray(lecture_frame(i / fps, w, h, seed, slide_s), format="rgb24")
            for pkt in st.encode(frame):
                out.mux(pkt)
        for pkt in st.encode(None):
            out.mux(pkt)
    return path


def reencode(src: Path, dst: Path, size: tuple[int, int], gop_s: float = 3.0, shift_s: float = 0.0) -> Path:
    """A re-encoded, resized copy of src (different GOP), dropping the first shift_s seconds."""
    frames, fps = [], 24
    with av.open(str(src)) as inp:
        st = inp.streams.video[0]
        fps = int(round(float(st.average_rate)))
        for f in inp.decode(st):
            if f.time is not None and f.time >= shift_s - 1e-6:
                frames.append(cv2.resize(f.to_ndarray(format="rgb24"), size, interpolation=cv2.INTER_AREA))
    gop = int(gop_s * fps)
    with av.open(str(dst), "w") as out:
        st = out.add_stream("libx264", rate=fps)
        st.width, st.height, st.pix_fmt = size[0], size[1], "yuv420p"
        st.codec_context.gop_size = gop
        st.codec_context.options = {"preset": "ultrafast", "crf": "32", "keyint_min": str(gop), "sc_threshold": "0"}
        for a in frames:
            for pkt in st.encode(av.VideoFrame.from_ndarray(a, format="rgb24")):
                out.mux(pkt)
        for pkt in st.encode(None):
            out.mux(pkt)
    return dst


def truncated_copy(src: Path, dst: Path, keep: float = 0.5) -> Path:
    data = Path(src).read_bytes()
    Path(dst).write_bytes(data[: int(len(data) * keep)])
    return Path(dst)


def corrupt_copy(src: Path, dst: Path, seed: int = 0) -> Path:
    """Keep the container header (ftyp) but overwrite everything after it with noise."""
    data = bytearray(Path(src).read_bytes())
    rng = np.random.default_rng(seed)
    data[32:] = rng.integers(0, 256, len(data) - 32, dtype=np.uint8).tobytes()
    Path(dst).write_bytes(bytes(data))
    return Path(dst)


def bad_files(tmp: Path, good: Path) -> dict[str, Path]:
    """reason -> path of a bad file of that kind."""
    tmp = Path(tmp)
    zero = tmp / "zero.mp4"
    zero.write_bytes(b"")
    text = tmp / "notes.mp4"
    text.write_text("this is not a video, just some lecture notes\n" * 50)
    fast = render_video(tmp / "fast.mp4", seconds=4.0, faststart=True, seed=7)
    return {
        "zero_length": zero,
        "not_video": text,
        "truncated": truncated_copy(good, tmp / "trunc_moov_end.mp4"),      # moov atom lost
        "truncated_faststart": truncated_copy(fast, tmp / "trunc_faststart.mp4"),  # samples missing
        "corrupt": corrupt_copy(good, tmp / "corrupt.mp4"),
    }
