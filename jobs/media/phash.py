"""Perceptual hashes, bit-identical to `imagehash.phash` (hash_size=8, highfreq_factor=4), batched and faster.

imagehash computes, per PIL image: `convert("L")` -> `resize((32, 32), LANCZOS)` -> `scipy.fftpack.dct` over axis 0
then axis 1 -> top-left 8x8 -> bit = coefficient > median of those 64. Profiling shows the Lanczos resize is ~70% of
its cost. We keep every step's arithmetic identical and batch it:

- grayscale: PIL's own `convert("L")` (fixed-point ITU-R 601 luma, `(19595 R + 38470 G + 7471 B + 0x8000) >> 16`),
  one frame at a time (a frame's buffers stay in cache through the next steps). A 4-channel RGBX frame (what the
  decoder hands us: `to_ndarray(format="rgba")`) is mapped into PIL without a copy; Pillow stores RGB as RGBX and
  uses the same `rgb2l` for both, so the result equals converting the RGB frame (a test checks this too);
- resize: Pillow's two-pass 8-bit resampling (horizontal pass, clip to uint8, vertical pass, clip) re-done as two
  float64 matrix products. The integer weights are Pillow's (same filter, same double arithmetic, same rounding to
  22-bit fixed point); every product and partial sum is an integer below 2**53, so float64 BLAS is exact whatever
  its summation order, and `floor((acc + 2**21) / 2**22)` clipped to [0, 255] is Pillow's `clip8` bit for bit;
- batching (`PHasher`): gray + the horizontal pass run per frame as it arrives (no stacked copies of frames); the
  clip, the vertical pass and the DCT run on stacks of small per-frame results;
- DCT: the same `scipy.fftpack.dct` calls, on a (N, 32, 32) stack (pocketfft does the same 1-D transforms);
- median and comparison: identical numpy arithmetic ((a + b) / 2 of the two middle values), so ties on flat frames
  (where most coefficients are 0 or rounding noise) resolve exactly as imagehash resolves them.

Hashes are returned as Python/numpy uint64 with the first bit of imagehash's row-major 8x8 array as the most
significant bit, i.e. `int(str(imagehash.phash(img)), 16)`.
"""
from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
import scipy.fftpack
from PIL import Image

try:  # Pillow (>= 11.2) exports images through the Arrow C interface; pyarrow reads that without a copy
    import pyarrow as pa
except ImportError:  # pragma: no cover
    pa = None

HASH_SIZE = 8
IMG_SIZE = 32                  # hash_size * highfreq_factor
_PRECISION_BITS = 32 - 8 - 2   # Pillow Resample.c, 8 bits per channel
_BIT_WEIGHTS = np.array([1 << (63 - i) for i in range(64)], dtype=np.uint64)


def _lanczos(x: float) -> float:
    """Pillow's lanczos_filter (truncated sinc, support 3), same double arithmetic and libm `sin`."""
    def sinc(v: float) -> float:
        if v == 0.0:
            return 1.0
        v = v * math.pi
        return math.sin(v) / v
    if -3.0 <= x < 3.0:
        return sinc(x) * sinc(x / 3)
    return 0.0


@lru_cache(maxsize=64)
def resample_matrix(in_size: int, out_size: int) -> np.ndarray:
    """(out_size, in_size) float64 matrix of Pillow's fixed-point LANCZOS weights (precompute_coeffs +
    normalize_coeffs_8bpc) for a full-image box."""
    scale = float(in_size) / out_size
    filterscale = max(scale, 1.0)
    support = 3.0 * filterscale
    m = np.zeros((out_size, in_size), dtype=np.float64)
    for xx in range(out_size):
        center = (xx + 0.5) * scale
        ss = 1.0 / filterscale
        xmin = max(int(center - support + 0.5), 0)
        xmax = min(int(center + support + 0.5), in_size) - xmin
        ws = [_lanczos((x + xmin - center + 0.5) * ss) for x in range(xmax)]
        ww = 0.0
        for w in ws:
            ww += w
        for x, w in enumerate(ws):
            if ww != 0.0:
                w = w / ww
            fixed = int(-0.5 + w * (1 << _PRECISION_BITS)) if w < 0 else int(0.5 + w * (1 << _PRECISION_BITS))
            m[xx, xmin + x] = fixed
    return m


@lru_cache(maxsize=64)
def _bands(in_size: int, out_size: int, groups: int = 8) -> tuple[tuple[slice, slice, np.ndarray], ...]:
    """The resample matrix cut into `groups` runs of outputs, each with only the input columns it touches
    (Lanczos weights are zero outside +-3 scale units): (output slice, input slice, weights[in, out])."""
    m = resample_matrix(in_size, out_size)
    out, step = [], -(-out_size // groups)
    for o0 in range(0, out_size, step):
        rows = m[o0:o0 + step]
        nz = np.flatnonzero(rows.any(axis=0))
        i0, i1 = int(nz.min()), int(nz.max()) + 1
        out.append((slice(o0, o0 + len(rows)), slice(i0, i1), np.ascontiguousarray(rows[:, i0:i1].T)))
    return tuple(out)


def _horizontal(x: np.ndarray, out_size: int, out: np.ndarray | None = None) -> np.ndarray:
    """(R, W) float64 -> (R, out_size) fixed-point accumulators of Pillow's horizontal pass (exact integers)."""
    acc = np.empty((x.shape[0], out_size), dtype=np.float64) if out is None else out
    for osl, isl, w in _bands(x.shape[1], out_size):
        np.matmul(x[:, isl], w, out=acc[:, osl])
    return acc


def _check_frame(a: np.ndarray) -> None:
    if a.ndim != 3 or a.shape[-1] not in (3, 4) or a.dtype != np.uint8:
        raise ValueError(f"phash_frames wants (N, H, W, 3) uint8 RGB (or RGBX, 4 channels), got "
                         f"{a.shape} {a.dtype} frames")


def gray1(frame: np.ndarray) -> np.ndarray:
    """(H, W, 3) RGB or (H, W, 4) RGBX uint8 -> (H, W) uint8, exactly PIL `Image.fromarray(rgb).convert("L")`."""
    h, w, c = frame.shape
    if c == 4:   # PIL maps a contiguous RGBX buffer without copying; its 4th byte is never read by rgb2l
        img = Image.frombuffer("RGBX", (w, h), np.ascontiguousarray(frame), "raw", "RGBX", 0, 1)
    else:
        img = Image.fromarray(np.ascontiguousarray(frame), "RGB")
    return _pixels(img.convert("L"))


def _pixels(img: Image.Image) -> np.ndarray:
    """(H, W) uint8 view of an 8-bit PIL image: zero-copy through its Arrow export where Pillow offers one
    (`np.asarray` would copy it through `tobytes`)."""
    if pa is not None:
        try:
            return pa.array(img).to_numpy(zero_copy_only=True).reshape(img.height, img.width)
        except (ValueError, TypeError, pa.ArrowException):   # e.g. a multi-block image: no single buffer
            pass
    return np.asarray(img)


def _clip8_(acc: np.ndarray) -> np.ndarray:
    """Pillow's clip8 of fixed-point accumulators, in place: floor((acc + 2**21) / 2**22) clipped to [0, 255]
    (exact: adding a small integer and scaling by a power of two lose nothing in float64)."""
    np.add(acc, 1 << (_PRECISION_BITS - 1), out=acc)
    np.multiply(acc, 1.0 / (1 << _PRECISION_BITS), out=acc)
    np.floor(acc, out=acc)
    return np.clip(acc, 0, 255, out=acc)


class PHasher:
    """Incremental `phash_frames`: `add(frame)` runs the per-frame work at once (gray + the horizontal resize pass,
    on reused float64 buffers: fresh multi-MB temporaries would cost page faults and cache misses); the clip,
    the vertical pass (per `chunk` frames of one size) and the DCT/median (once) run on small stacks.
    Lets a decoding loop hash each frame while it is still in cache, with no stack of frames kept."""

    def __init__(self, chunk: int = 16, corners: tuple[float, float] | None = None):
        self.chunk = chunk
        self.corners = corners   # (fx, fy): see _mask_corners; None hashes the whole frame (imagehash-identical)
        self.n = 0
        self._x: dict[tuple[int, int], np.ndarray] = {}                   # (h, w) -> float64 gray buffer
        self._rows: dict[tuple[int, int], tuple[list[int], np.ndarray]] = {}  # (h, w) -> (positions, rows)
        self._small: list[tuple[list[int], np.ndarray]] = []               # (positions, (k, 32, 32))

    def add(self, frame) -> int:
        """Hash one (H, W, 3) RGB or (H, W, 4) RGBX uint8 frame; returns its position in `hashes()`."""
        f = np.asarray(frame)
        _check_frame(f)
        h, w = key = f.shape[:2]
        if key not in self._rows:
            self._rows[key] = ([], np.empty((self.chunk, h, IMG_SIZE if w != IMG_SIZE else w)))
        pos, rows = self._rows[key]
        g = gray1(f)
        if w == IMG_SIZE:                # no horizontal pass: the rows are the gray values
            np.copyto(rows[len(pos)], g)
            if self.corners:
                _mask_corners(rows[len(pos)], *self.corners)
        else:
            x = self._x.get(key)
            if x is None:
                x = self._x[key] = np.empty((h, w))
            np.copyto(x, g)
            if self.corners:
                _mask_corners(x, *self.corners)
            _horizontal(x, IMG_SIZE, out=rows[len(pos)])
        pos.append(self.n)
        self.n += 1
        if len(pos) == self.chunk:
            self._flush(key)
        return self.n - 1

    def _flush(self, key: tuple[int, int]) -> None:
        pos, rows = self._rows[key]
        if not pos:
            return
        h, w = key
        rows = rows[:len(pos)]
        if w != IMG_SIZE:
            rows = _clip8_(rows.copy())  # Pillow clips its horizontal pass to an 8-bit temp image
        small = rows.copy() if h == IMG_SIZE else _clip8_(np.matmul(resample_matrix(h, IMG_SIZE), rows))
        self._small.append((list(pos), small))   # (PIL returns a copy when no pass is needed)
        pos.clear()

    def thumbnails(self) -> np.ndarray:
        """(n, 32, 32) float64: the uint8 values of PIL `convert("L").resize((32, 32), LANCZOS)` per frame."""
        for key in self._rows:
            self._flush(key)
        small = np.empty((self.n, IMG_SIZE, IMG_SIZE))
        for pos, s in self._small:
            small[pos] = s
        return small

    def hashes(self) -> np.ndarray:
        """(n,) uint64 pHashes of the frames added so far, in the order added."""
        return pack(_bits_from_small(self.thumbnails())) if self.n else np.zeros(0, dtype=np.uint64)

    def quality_and_thumbnails(self) -> tuple[np.ndarray, np.ndarray]:
        """(n,) int32 quality scores (see `quality_from_small`) and the (n, 32, 32) thumbnails they come from (the
        window codes average thumbnails and hash the means, so the frames' own hashes are not computed)."""
        if not self.n:
            return np.zeros(0, dtype=np.int32), np.zeros((0, IMG_SIZE, IMG_SIZE))
        small = self.thumbnails()
        return quality_from_small(small), small

    def hashes_and_quality(self) -> tuple[np.ndarray, np.ndarray]:
        """(n,) uint64 pHashes and (n,) int32 quality scores (see `quality_from_small`), from one thumbnail pass."""
        if not self.n:
            return np.zeros(0, dtype=np.uint64), np.zeros(0, dtype=np.int32)
        small = self.thumbnails()
        return pack(_bits_from_small(small)), quality_from_small(small)


def _mask_corners(x: np.ndarray, fx: float, fy: float) -> None:
    """Fill the four corner boxes (fx of the width by fy of the height) of a float gray frame, in place, with the
    median of a sparse sample of the frame: what a corner logo, a channel bug or a clock covers stops counting.
    Both sides of a comparison mask alike, so the hash stays a pHash of the rest of the picture."""
    h, w = x.shape
    cy, cx = int(round(h * fy)), int(round(w * fx))
    if not cy or not cx:
        return
    v = float(np.median(x[::max(1, h // 16), ::max(1, w // 16)]))
    x[:cy, :cx] = v
    x[:cy, w - cx:] = v
    x[h - cy:, :cx] = v
    x[h - cy:, w - cx:] = v


def resize32(gray_frames: np.ndarray) -> np.ndarray:
    """(N, H, W) uint8 -> (N, 32, 32) float64 holding the uint8 values of PIL `resize((32, 32), LANCZOS)`."""
    n, h, w = gray_frames.shape
    out = np.empty((n, IMG_SIZE, IMG_SIZE))
    for i, g in enumerate(gray_frames):
        rows = g.astype(np.float64)
        if w != IMG_SIZE:
            rows = _clip8_(_horizontal(rows, IMG_SIZE))
        out[i] = rows if h == IMG_SIZE else _clip8_(resample_matrix(h, IMG_SIZE) @ rows)
    return out


def _bits_from_small(small: np.ndarray) -> np.ndarray:
    """(N, 32, 32) float64 -> (N, 64) bool, imagehash's DCT / median / comparison."""
    dct = scipy.fftpack.dct(scipy.fftpack.dct(small, axis=1), axis=2)
    low = dct[:, :HASH_SIZE, :HASH_SIZE].reshape(len(small), HASH_SIZE * HASH_SIZE)
    med = np.median(low, axis=1)
    return low > med[:, None]


def pack(bits: np.ndarray) -> np.ndarray:
    """(N, 64) bool -> (N,) uint64, first bit most significant (imagehash's hex string order)."""
    return (bits.astype(np.uint64) * _BIT_WEIGHTS).sum(axis=1, dtype=np.uint64)


def phash_frames(frames) -> np.ndarray:
    """pHash of each frame -> (N,) uint64. `frames`: a (N, H, W, C) uint8 array or a list of (H, W, C) uint8
    arrays (shapes may differ), C = 3 (RGB) or 4 (RGBX: the decoder's `rgba`, 4th byte ignored).

    Bit-identical to `imagehash.phash(Image.fromarray(rgb))` for every frame (see PHasher for how it is batched).
    """
    if isinstance(frames, np.ndarray):
        if frames.ndim != 4:
            raise ValueError(f"phash_frames wants (N, H, W, 3) uint8 RGB (or RGBX), got "
                             f"{frames.shape} {frames.dtype}")
    elif not isinstance(frames, (list, tuple)):
        frames = list(frames)
    if len(frames) == 0:
        return np.zeros(0, dtype=np.uint64)
    hasher = PHasher()
    for f in frames:
        hasher.add(f)
    return hasher.hashes()


def phash_image(image: Image.Image) -> int:
    """pHash of one PIL image of any mode, as imagehash.phash would compute it (as an int)."""
    return int(pack(_bits_from_small(resize32(np.asarray(image.convert("L"))[None])))[0])


def imagehash_int(h) -> int:
    """An `imagehash.ImageHash` (8x8) as our uint64 convention."""
    return int(str(h), 16)


QUALITY_GRADIENT = 8.0   # mean |gradient| (gray levels per thumbnail pixel) that scores 100


def quality_from_small(small: np.ndarray) -> np.ndarray:
    """(N, 32, 32) thumbnails -> (N,) int32 information score in [0, 100], in the spirit of PDQ's quality metric
    (gradient sum of the downsampled luma; vPDQ drops frames below a quality threshold).

    Why: a pHash bit is the sign of a low-frequency DCT coefficient against their median. On a blank, uniform or
    nearly faded-out frame those coefficients are ~0, so the bits are rounding noise and every such frame hashes
    alike (black -> 0): such hashes are no evidence of a copy. The score is the mean absolute horizontal +
    vertical gradient of the 32x32 thumbnail the hash is computed from, scaled so that QUALITY_GRADIENT gray
    levels score 100. Flat frames score 0; a fade scores in proportion to its contrast."""
    s = np.asarray(small, dtype=np.float64)
    if s.ndim != 3 or len(s) == 0:
        return np.zeros(len(s) if s.ndim == 3 else 0, dtype=np.int32)
    grad = np.abs(np.diff(s, axis=2)).mean(axis=(1, 2)) + np.abs(np.diff(s, axis=1)).mean(axis=(1, 2))
    return np.minimum(100, np.round(grad * (100.0 / QUALITY_GRADIENT))).astype(np.int32)


def phash_small(small: np.ndarray) -> np.ndarray:
    """(N, 32, 32) float thumbnails (e.g. the means of several frames' thumbnails) -> (N,) uint64 pHashes: the
    same DCT / median / comparison as `phash_frames`, on whatever values the thumbnails hold."""
    s = np.asarray(small, dtype=np.float64)
    return pack(_bits_from_small(s)) if len(s) else np.zeros(0, dtype=np.uint64)


def phash_quality(frames) -> tuple[np.ndarray, np.ndarray]:
    """`phash_frames` plus the quality score of each frame (same thumbnails): ((N,) uint64, (N,) int32)."""
    if isinstance(frames, np.ndarray) and frames.ndim != 4:
        raise ValueError(f"phash_frames wants (N, H, W, 3) uint8 RGB (or RGBX), got {frames.shape} {frames.dtype}")
    hasher = PHasher()
    for f in frames:
        hasher.add(f)
    return hasher.hashes_and_quality()


def hamming(a: int, b: int) -> int:
    return (int(a) ^ int(b)).bit_count()


def majority(hashes) -> int:
    """Per-bit strict majority of 64-bit hashes: bit set when more than half of the inputs have it set."""
    h = np.asarray(hashes, dtype=np.uint64)
    if h.size == 0:
        raise ValueError("majority of no hashes")
    bits = ((h[:, None] >> np.arange(63, -1, -1, dtype=np.uint64)) & np.uint64(1)).astype(np.int64)
    return int(pack(bits.sum(axis=0)[None] * 2 > len(h))[0])
