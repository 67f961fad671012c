"""Window hashes: one selective decode of a video's 1 Hz grid frames per 20-second window, hashed with pHash.

Each decoded frame is converted to RGBX and its pHash's per-frame work done on a worker thread, while the decoder's
frame threads decode the next ones (see video_decode.py for how only the needed packets are decoded and
frame_sampling.py for which frames a window uses).

Window hash (decontamination): the per-bit strict majority of the pHashes (bit-identical to imagehash.phash) of the
frames at a 1 Hz grid inside the window (a frame serving two grid points counts twice). Why this aggregate:
- re-encoding and resizing change a frame's pHash by a few bits at most (pHash works on a 32x32 Lanczos thumbnail
  and the sign of low DCT frequencies), and a majority over ~20 frames removes most of that remaining noise;
- a shift of a few seconds replaces a few of the ~20 frames; a majority only moves when the shifted-in frames
  outnumber the rest, so a lecture window (mostly one slide) keeps its hash;
- it is a plain 64-bit pHash again, so matching is a Hamming distance per window plus sequence matching over
  consecutive windows (the decontamination stage).
"""
from __future__ import annotations

from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field

from jobs.media import phash
from jobs.media.frame_sampling import WINDOW_S, window_plan
from jobs.media.video_decode import Reformatter, VideoIndex, decode_frames, index_video

try:  # BLAS threads would fight the decoder threads over the cores; pHash batches are small: one BLAS thread
    from threadpoolctl import threadpool_limits
except ImportError:  # pragma: no cover - threadpoolctl ships with scikit-learn; without it BLAS keeps its default
    threadpool_limits = None

_BATCH, _IN_FLIGHT = 4, 8          # decoded frames per worker task; tasks queued before the decoder waits
KEEP_KEYFRAMES_BYTES = 64 << 20  # keyframe packets kept from the index pass (saves a second demux when they fit)


@dataclass
class VideoWindows:
    """What one decode of a video yields: its packet index and its window hashes."""
    index: VideoIndex
    windows: list[dict] = field(default_factory=list)   # window_index, start_s, end_s, phash, frame_count


def hash_video(path, window_s: float = WINDOW_S, threads: int = 0) -> VideoWindows:
    """Index `path`, decode the window frames once, hash them. Raises a VideoError subclass for a bad file."""
    if threadpool_limits is None:
        return _hash_video(path, window_s, threads)
    with threadpool_limits(limits=1, user_api="blas"):
        return _hash_video(path, window_s, threads)


def _hash_video(path, window_s: float, threads: int) -> VideoWindows:
    index = index_video(path, keep_keyframes_bytes=KEEP_KEYFRAMES_BYTES)
    plan = window_plan(index, window_s)
    hash_pts = {int(index.pts[p]) for w in plan for p in w["packets"]}
    hashed: dict[int, int] = {}          # pts -> position in the hasher
    to_rgbx, hasher = Reformatter("rgba"), phash.PHasher()

    def convert_and_hash(batch: list) -> None:   # runs on the worker thread, which alone touches these
        for ts, fr in batch:
            hashed[ts] = hasher.add(to_rgbx(fr))

    # This thread only demuxes and feeds the decoder (whose frame threads decode); a worker thread converts and
    # hashes each small batch of decoded frames (swscale, PIL's convert and BLAS release the GIL), so decoding
    # and hashing overlap on 2 cores. At most _IN_FLIGHT batches wait, which bounds the decoded frames held.
    with ThreadPoolExecutor(1, thread_name_prefix="frames-hash") as pool:
        in_flight: deque[Future] = deque()
        batch: list = []
        for item in decode_frames(index, hash_pts, threads=threads, fmt=None):
            batch.append(item)
            if len(batch) >= _BATCH:
                in_flight.append(pool.submit(convert_and_hash, batch))
                batch = []
                if len(in_flight) > _IN_FLIGHT:
                    in_flight.popleft().result()
        in_flight.append(pool.submit(convert_and_hash, batch))
        for fut in in_flight:
            fut.result()
    index.key_packets = None   # the compressed keyframes are not needed any more
    values = hasher.hashes()
    hashes = {ts: int(values[i]) for ts, i in hashed.items()}
    out = VideoWindows(index)
    for w in plan:
        pts = [int(index.pts[p]) for p in w["packets"]]
        out.windows.append({"window_index": w["window_index"], "start_s": w["start_s"], "end_s": w["end_s"],
                            "phash": phash.majority([hashes[t] for t in pts]), "frame_count": len(set(pts))})
    return out


def window_hashes_for(path, window_s: float = WINDOW_S, threads: int = 0) -> list[dict]:
    """Window hashes of one video file: [{window_index, start_s, end_s, phash (int, uint64), frame_count}].
    Pure function of the file; the decontamination stage uses it for benchmark videos too."""
    return hash_video(path, window_s=window_s, threads=threads).windows
