"""Small synthetic videos and VideoKR JSONL files (PyAV), for CPU tests and smoke runs of the training code.

Each video is a moving coloured square; which colour it is answers the question, so the label depends on the video.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

COLOURS = {"A": (220, 40, 40), "B": (40, 200, 60), "C": (40, 80, 220), "D": (230, 200, 40)}
NAMES = {"A": "red", "B": "green", "C": "blue", "D": "yellow"}


def write_video(path: str | Path, letter: str = "A", seconds: float = 2.0, fps: int = 8, size: int = 56) -> Path:
    """An H.264 mp4 (size x size) with a square of the letter's colour moving across a grey background."""
    import av
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    n = max(1, int(seconds * fps))
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=fps)
        stream.width = stream.height = size
        stream.pix_fmt = "yuv420p"
        stream.options = {"preset": "ultrafast", "g": str(fps)}
        for i in range(n):
            img = np.full((size, size, 3), 128, np.uint8)
            x = int((size - size // 3) * i / max(1, n - 1))
            img[size // 3: 2 * size // 3, x: x + size // 3] = COLOURS[letter]
            for packet in stream.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return path


def write_dataset(out_dir: str | Path, n: int = 8, sft: bool = True, open_ended_every: int = 4,
                  seconds: float = 2.0, size: int = 56, name: str | None = None) -> Path:
    """A VideoKR JSONL file of `n` examples (every `open_ended_every`-th open-ended) plus its videos."""
    out = Path(out_dir)
    letters = list(COLOURS)
    rows = []
    for i in range(n):
        letter = letters[i % len(letters)]
        video = write_video(out / "videos" / f"v{i:03d}.mp4", letter, seconds=seconds, size=size)
        open_ended = open_ended_every and i % open_ended_every == open_ended_every - 1
        row = {"problem_id": f"syn-{i:03d}", "video_path": str(video.relative_to(out)),
               "subject_id": ["physics", "computer-science"][i % 2]}
        if open_ended:
            row.update(problem_type="open-ended", question="What colour is the moving square?", options=[],
                       solution=f"<answer>the square is {NAMES[letter]}</answer>")
        else:
            row.update(problem_type="multiple choice", question="What colour is the moving square?",
                       options=[f"{k}. {v}" for k, v in NAMES.items()], solution=f"<answer>{letter}</answer>")
        if sft:
            row["think"] = f"The square in every frame is {NAMES[letter]}."
        rows.append(row)
    path = out / (name or ("sft.jsonl" if sft else "rl.jsonl"))
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path
