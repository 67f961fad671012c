"""Selective video decoding with PyAV: a packet index, typed errors for bad files, and a decoder that decodes only
the packets the wanted frames need.

How frames are fetched (one demux pass, a second only where needed, one decode pass):
1. `index_video` demuxes the video stream without decoding (cheap: no pixels) and records every packet's
   presentation time, keyframe flag and GOP. It also detects truncation (fewer packets than the container declares,
   or a missing `moov` atom) before any decoding. Optionally it keeps the (compressed) keyframe packets, within a
   byte budget, so that wanted keyframes need no second demux. Other streams (audio...) are discarded unread.
2. A caller picks frames by presentation timestamp (see jobs/media/frame_sampling.py: keyframes where they are close enough to the
   target, exact frames otherwise).
3. `decode_frames` feeds the decoder only: the keyframe packet of a GOP whose keyframe alone is wanted (from the
   kept packets when the index holds them), or the GOP's packets from its keyframe up to the last wanted packet
   (decode order) when a non-key frame is wanted. GOPs with nothing wanted are never decoded. Short gaps are read
   through without decoding, which keeps the frame-threaded decoder pipelined (independent keyframes decode in
   parallel on the decoder threads); gaps over SEEK_GAP packets are skipped by a keyframe seek (after draining the
   decoder, since a seek flushes it).
Containers are always opened with a context manager, so a failing file never leaks a demuxer/decoder.
Pixel conversion (`Reformatter`) reuses one swscale context per output format: PyAV's `frame.to_ndarray(format=)`
would build a context (and its thread pool) for every frame, which costs more than the conversion itself.
"""
from __future__ import annotations

import hashlib
import os
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import av
import numpy as np

# the first bytes of containers that hold video: a file starting like this that FFmpeg cannot open is corrupt,
# anything else it cannot open is not a video at all
_VIDEO_MAGIC = (b"\x1a\x45\xdf\xa3", b"RIFF", b"FLV", b"\x00\x00\x01\xba", b"\x00\x00\x01\xb3", b"OggS")
SEEK_GAP = 300   # packets: skip fewer by reading on (keeps frame-threaded decoding pipelined), more by seeking
_STILL_FORMATS = ("image2", "png_pipe", "jpeg_pipe", "webp_pipe", "bmp_pipe", "gif", "tiff_pipe", "svg_pipe")


class VideoError(Exception):
    """A video that cannot be used. `reason` is the short machine-readable quarantine reason."""
    reason = "bad_video"

    def __init__(self, path: str | Path, message: str):
        self.path = str(path)
        super().__init__(f"{path}: {self.reason}: {message}")


class MissingVideo(VideoError):
    reason = "missing_file"


class ZeroLengthVideo(VideoError):
    reason = "zero_length"


class NotAVideo(VideoError):
    reason = "not_video"


class CorruptVideo(VideoError):
    reason = "corrupt_video"


class TruncatedVideo(VideoError):
    reason = "truncated_video"


@dataclass
class VideoIndex:
    """Packet table of the first video stream, in decode order. Times are seconds from the first frame."""
    path: str
    bytes: int
    codec: str
    width: int
    height: int
    fps: float
    time_base: float
    start_pts: int
    pts: np.ndarray          # int64 presentation timestamps (stream time base), decode order
    key: np.ndarray          # bool, keyframe packets
    gop: np.ndarray          # int, index of the GOP (keyframe run) each packet belongs to
    frame_s: float = 0.0     # duration of one frame
    declared_frames: int = 0
    declared_duration_s: float = 0.0
    key_packets: dict | None = field(default=None, repr=False)  # pts -> av.Packet of each keyframe, when kept
    times: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        self.times = (self.pts - self.start_pts) * self.time_base

    @property
    def frames(self) -> int:
        return len(self.pts)

    @property
    def duration_s(self) -> float:
        return float(self.times.max() + self.frame_s) if self.frames else 0.0

    @property
    def key_times(self) -> np.ndarray:
        return np.sort(self.times[self.key])

    def metadata(self) -> dict:
        return {"bytes": self.bytes, "codec": self.codec, "width": self.width, "height": self.height,
                "fps": round(self.fps, 6), "duration_s": round(self.duration_s, 6), "frames": self.frames}


def _mp4_truncated(path: Path) -> bool:
    """True when the file is a well-formed run of ISO-BMFF boxes whose last box runs past the end of the file
    (a cut-off download); False for noise or other layouts."""
    size = path.stat().st_size
    with open(path, "rb") as f:
        pos = 0
        while pos + 8 <= size:
            f.seek(pos)
            head = f.read(16)
            box_size, kind = int.from_bytes(head[:4], "big"), head[4:8]
            if not all(48 <= c < 123 for c in kind):
                return False
            if box_size == 1 and len(head) == 16:
                box_size = int.from_bytes(head[8:16], "big")
            elif box_size == 0:
                return False
            if box_size < 8:
                return False
            if pos + box_size > size:
                return True
            pos += box_size
    return False


def _sniff_video(path: Path) -> bool:
    with open(path, "rb") as f:
        head = f.read(16)
    return head[4:8] in (b"ftyp", b"moov", b"mdat", b"free", b"wide") or head.startswith(_VIDEO_MAGIC)


@contextmanager
def open_video(path: str | Path, threads: int = 0) -> Iterator[tuple[av.container.InputContainer, av.VideoStream]]:
    """Open `path` and its first video stream, raising a typed VideoError for bad files. Always closes."""
    p = Path(path)
    if not p.is_file():      # a directory or a device is not a video file either (and /dev/zero would never end)
        raise MissingVideo(p, "not a regular file" if os.path.lexists(p) else "no such file")
    if p.stat().st_size == 0:
        raise ZeroLengthVideo(p, "file is empty (0 bytes)")
    try:
        container = av.open(str(p), "r")
    except (av.error.InvalidDataError, av.error.EOFError, av.error.FFmpegError, UnicodeDecodeError) as exc:
        msg = str(exc)
        if _sniff_video(p):
            cls = TruncatedVideo if _mp4_truncated(p) or isinstance(exc, av.error.EOFError) else CorruptVideo
            raise cls(p, f"FFmpeg cannot open the container: {msg}") from exc
        raise NotAVideo(p, f"not a media container FFmpeg recognises: {msg}") from exc
    with container:
        if not container.streams.video:
            kinds = sorted({s.type for s in container.streams})
            raise NotAVideo(p, f"no video stream (streams: {kinds or 'none'})")
        if container.format.name in _STILL_FORMATS:
            raise NotAVideo(p, f"a still image ({container.format.name}), not a video")
        stream = container.streams.video[0]
        for other in container.streams:   # the demuxer skips their packets instead of reading them (audio...)
            if other.index != stream.index:
                other.discard = av.stream.Discard.all
        stream.thread_type = "AUTO"
        stream.codec_context.thread_count = threads
        yield container, stream


def index_video(path: str | Path, keep_keyframes_bytes: int = 0) -> VideoIndex:
    """Demux (no decoding) the first video stream into a VideoIndex; TruncatedVideo/CorruptVideo on bad data.

    keep_keyframes_bytes > 0: also keep the keyframe packets (compressed; ~2/3 of a 2-s-GOP file) while their
    total stays under that many bytes, so that `decode_frames` decodes wanted keyframes without demuxing the
    file a second time. Over the budget none are kept (decode_frames then demuxes again)."""
    p = Path(path)
    pts_l, key_l, dur_l = [], [], []
    kept: dict | None = {} if keep_keyframes_bytes > 0 else None
    kept_bytes = 0
    with open_video(p, threads=1) as (container, stream):
        tb = float(stream.time_base)
        declared = int(stream.frames or 0)
        declared_dur = float(stream.duration * stream.time_base) if stream.duration else (
            container.duration / av.time_base if container.duration else 0.0)
        rate = stream.average_rate or stream.guessed_rate or stream.base_rate
        cc = stream.codec_context
        meta = dict(codec=cc.name, width=cc.width, height=cc.height, fps=float(rate) if rate else 0.0)
        try:
            for pkt in container.demux(stream):
                if pkt.size == 0:          # the demuxer's end-of-stream flush packet
                    continue
                ts = pkt.pts if pkt.pts is not None else pkt.dts
                if ts is None:
                    raise CorruptVideo(p, f"packet {len(pts_l)} has no timestamp")
                pts_l.append(ts)
                key_l.append(bool(pkt.is_keyframe))
                dur_l.append(pkt.duration or 0)
                if kept is not None and key_l[-1] and pkt.pts is not None:
                    kept_bytes += pkt.size
                    kept = None if kept_bytes > keep_keyframes_bytes else kept
                    if kept is not None:
                        kept[ts] = pkt
        except av.error.FFmpegError as exc:
            raise (TruncatedVideo if isinstance(exc, av.error.EOFError) else CorruptVideo)(
                p, f"demuxing failed after {len(pts_l)} packets: {exc}") from exc
    if not pts_l:
        raise CorruptVideo(p, "the video stream has no packets")
    if declared and len(pts_l) < declared * 0.98 - 1:
        raise TruncatedVideo(p, f"only {len(pts_l)} of {declared} declared frames are in the file")
    key = np.array(key_l, dtype=bool)
    if not key.any():
        raise CorruptVideo(p, "no keyframe in the video stream")
    key[0] = True  # a stream starting mid-GOP: treat its first packet as the start of the first GOP
    pts = np.array(pts_l, dtype=np.int64)
    fps = meta["fps"] or (len(pts) / max((pts.max() - pts.min()) * tb, 1e-9))
    frame_s = float(np.median(dur_l) * tb) if any(dur_l) else 1.0 / fps
    meta["fps"] = fps
    idx = VideoIndex(str(p), p.stat().st_size, start_pts=int(pts.min()), time_base=tb, pts=pts, key=key,
                     gop=np.cumsum(key) - 1, frame_s=frame_s, declared_frames=declared,
                     declared_duration_s=declared_dur, key_packets=kept, **meta)
    if declared_dur and idx.duration_s < declared_dur * 0.9 - 1.0:
        raise TruncatedVideo(p, f"frames end at {idx.duration_s:.1f}s, container declares {declared_dur:.1f}s")
    return idx


class Reformatter:
    """Decoded frame -> uint8 array in pixel format `fmt`, reusing one swscale context (`frame.to_ndarray(format=)`
    would build a context, and its thread pool, for every frame). Single-threaded: callers parallelise across
    frames. Not thread-safe: one per thread."""

    def __init__(self, fmt: str = "rgb24"):
        self.fmt = fmt
        self._sws = av.video.reformatter.VideoReformatter()

    def __call__(self, frame: av.VideoFrame, width: int | None = None, height: int | None = None,
                 interpolation: str | None = None) -> np.ndarray:
        """The frame in `fmt`, scaled to width x height when given (swscale `interpolation`, e.g. "AREA")."""
        return self._sws.reformat(frame, width=width, height=height, format=self.fmt, interpolation=interpolation,
                                  threads=1).to_ndarray()


def feed_plan(index: VideoIndex, wanted: np.ndarray) -> list[tuple[int, int]]:
    """Packet ranges [start, stop) in decode order to feed the decoder so that every wanted packet decodes:
    per GOP, from its keyframe to the last wanted packet of that GOP (just the keyframe when only it is wanted)."""
    ranges = []
    for g in np.unique(index.gop[wanted]):
        members = np.flatnonzero(index.gop == g)
        last = members[wanted[members]].max()
        ranges.append((int(members[0]), int(last) + 1))
    return ranges


def decode_frames(index: VideoIndex, wanted_pts: set[int], threads: int = 0,
                  fmt: str | None = "rgb24") -> Iterator[tuple[int, np.ndarray | av.VideoFrame]]:
    """Yield (pts, frame) for every wanted pts, decoding only what `feed_plan` says (a GOP whose keyframe alone is
    wanted is fed from `index.key_packets` when it holds that packet, without demuxing): the frame as a uint8 array
    in pixel format `fmt` ("rgb24": (H, W, 3) RGB), or the decoded `av.VideoFrame` itself when fmt is None (the
    caller converts it, e.g. on another thread: PyAV's conversion releases the GIL).

    Frames come out in decode-completion order (roughly ascending); each wanted pts is yielded once.
    """
    wanted = np.isin(index.pts, np.fromiter(wanted_pts, dtype=np.int64, count=len(wanted_pts)))
    ranges = feed_plan(index, wanted)
    if not ranges:
        return
    todo = set(int(x) for x in index.pts[wanted])
    with open_video(index.path, threads=threads) as (container, stream):
        reformatter = Reformatter(fmt) if fmt else None

        def emit(frames):
            for fr in frames:
                ts = fr.pts
                if ts in todo:
                    todo.discard(ts)
                    yield ts, (reformatter(fr) if reformatter else fr)

        pos, packets = 0, container.demux(stream)   # pos: decode-order index of the next packet read
        kept = index.key_packets or {}
        try:
            for start, stop in ranges:
                if stop - start == 1 and int(index.pts[start]) in kept:   # a lone keyframe we already hold
                    yield from emit(stream.decode(kept[int(index.pts[start])]))
                    continue
                if start - pos > SEEK_GAP:
                    # far ahead: drain the decoder (seeking flushes it and would drop held-back frames), then seek
                    yield from emit(stream.decode(None))
                    container.seek(int(index.pts[start]), backward=True, any_frame=False, stream=stream)
                    packets, pos = container.demux(stream), None
                for pkt in packets:
                    if pkt.size == 0:
                        continue
                    if pos is None:        # after a seek: locate ourselves by the keyframe's timestamp
                        ts = pkt.pts if pkt.pts is not None else pkt.dts
                        if ts != index.pts[start] or not pkt.is_keyframe:
                            continue
                        pos = start
                    if pos >= start:
                        yield from emit(stream.decode(pkt))
                    pos += 1
                    if pos >= stop:
                        break
            yield from emit(stream.decode(None))   # drain frames held back by frame threading / B-frame delay
        except av.error.FFmpegError as exc:
            raise CorruptVideo(index.path, f"decoding failed: {exc}") from exc
    if todo:
        raise CorruptVideo(index.path, f"{len(todo)} indexed frames could not be decoded")


def sha256_file(path, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()
