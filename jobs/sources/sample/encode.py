"""H.264 mp4 writing for the sample world (stand-in videos) with PyAV/libx264.

Deterministic: single-threaded x264 with a fixed GOP (keyframe every `gop_s` seconds, no scene-cut keyframes),
so the same frames give the same bytes. Also the re-encode used for planted near-duplicate copies.
"""
from __future__ import annotations

from fractions import Fraction
from pathlib import Path
from typing import Iterable

import av
import cv2
import numpy as np


def _x264_stream(container, fps: float, width: int, height: int, gop_s: float, crf: int | None,
                 bitrate: int | None, preset: str):
    rate = Fraction(fps).limit_denominator(1001)
    stream = container.add_stream("libx264", rate=rate)
    stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
    gop = max(1, int(round(gop_s * fps)))
    stream.codec_context.gop_size = gop
    stream.codec_context.thread_count = 1
    params = f"keyint={gop}:min-keyint={gop}:scenecut=0:bframes=2"
    opts = {"preset": preset, "threads": "1", "sc_threshold": "0", "keyint_min": str(gop)}
    if bitrate:
        stream.codec_context.bit_rate = int(bitrate)
        params += f":vbv-maxrate={bitrate // 1000}:vbv-bufsize={2 * bitrate // 1000}"
    else:
        opts["crf"] = str(crf if crf is not None else 26)
    opts["x264-params"] = params
    stream.options = opts
    return stream, rate


def encode_frames(path: Path, frames: Iterable[np.ndarray], fps: float, width: int, height: int,
                  gop_s: float = 2.0, crf: int | None = 26, bitrate: int | None = None,
                  preset: str = "ultrafast") -> int:
    """Write RGB uint8 frames (H, W, 3) to an mp4; returns the number of frames written. `ultrafast`: about 40%
    less CPU than `veryfast` for flat slides (larger files, the same frames to the pipeline's hashes and checks);
    a preset change alters the bytes, so it goes with a RENDER_VERSION bump (spec.py)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".part")
    n = 0
    with av.open(str(tmp), "w", format="mp4") as out:
        stream, rate = _x264_stream(out, fps, width, height, gop_s, crf, bitrate, preset)
        for img in frames:
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(img), format="rgb24")
            frame.pts = n
            frame.time_base = 1 / rate
            for pkt in stream.encode(frame):
                out.mux(pkt)
            n += 1
        for pkt in stream.encode():
            out.mux(pkt)
    tmp.replace(path)
    return n


def decoded_frames(path: Path, start_s: float = 0.0):
    """(t, RGB frame) for each frame at or after `start_s` (decode only; used for re-encoding)."""
    with av.open(str(path)) as src:
        vs = src.streams.video[0]
        for frame in src.decode(vs):
            t = float(frame.pts * vs.time_base)
            if t + 1e-6 >= start_s:
                yield t, frame.to_ndarray(format="rgb24")


def reencode(src: Path, dst: Path, trim_s: float, width: int, height: int, bitrate: int,
             gop_s: float = 2.0, fps: float | None = None) -> int:
    """A near-duplicate: drop the first `trim_s` seconds, resize, re-encode at `bitrate` (bits/s)."""
    with av.open(str(src)) as probe:
        src_fps = float(probe.streams.video[0].average_rate)
    frames = (cv2.resize(img, (width, height), interpolation=cv2.INTER_AREA) for _, img in decoded_frames(src, trim_s))
    return encode_frames(dst, frames, fps or src_fps, width, height, gop_s, crf=None, bitrate=bitrate)


def truncate(path: Path, fraction: float) -> None:
    """Cut the file to `fraction` of its bytes (a download that stopped half way)."""
    data = Path(path).read_bytes()
    Path(path).write_bytes(data[: int(len(data) * fraction)])
