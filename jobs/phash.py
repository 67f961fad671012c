"""Perceptual hashes, bit-identical to `imagehash.phash` (hash_size=8, highfreq_factor=4), batched and faster.

imagehash computes, per PIL image: `convert("L")` -> `resize((32, 32), LANCZOS)` -> `scipy.fftpack.dct` over axis 0
then axis 1 -> top-left 8x8 -> bit = coefficient > median of those 64. Profiling shows the Lanczos resize is ~70% of
its cost. We keep every step's arithmetic identical and batch it:

- grayscale: PIL's own `convert("L")` (fixed-point ITU-R 601 luma), on all frames of a batch stacked into one image;
- resize: Pillow's two-pass 8-bit resampling (horizontal pass, clip to uint8, vertical pass, clip) re-done as two
  float64 matrix products. The integer weights are Pillow's (same filter, same double arithmetic, same rounding to
  22-bit fixed point); every product and partial sum is an integer below 2**53, so float64 BLAS is exact whatever
  its summation order, and `floor((acc + 2**21) / 2**22)` clipped to [0, 255] is Pillow's `clip8` bit for bit;
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

HASH_SIZE = 8
IMG_SIZE = 32                  # hash_size * highfreq_factor
_PRECISION_BITS = 32 - 8 - 2   # Pillow Resample.c, 8 bits per channel
_BIT_WEIGHTS = np.array([1 << (63 - i) for i in range(64)], dtype=np.uint64)
_BATCH = 4                     # frames per BLAS call: keeps the float64 temporaries (4 x H x W x 8 bytes) in cache


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
def _bands(in_size: int, out_size: int, groups: int = 4) -> tuple[tuple[slice, slice, np.ndarray], ...]:
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


def _horizontal(x: np.ndarray, out_size: int) -> np.ndarray:
    """(R, W) float64 -> (R, out_size) fixed-point accumulators of Pillow's horizontal pass (exact integers)."""
    acc = np.empty((x.shape[0], out_size), dtype=np.float64)
    for osl, isl, w in _bands(x.shape[1], out_size):
        np.matmul(x[:, isl], w, out=acc[:, osl])
    return acc


def _clip8(acc: np.ndarray) -> np.ndarray:
    return np.clip(np.floor((acc + (1 << (_PRECISION_BITS - 1))) * (1.0 / (1 << _PRECISION_BITS))), 0, 255)


def gray(frames: np.ndarray) -> np.ndarray:
    """(N, H, W, 3) uint8 RGB -> (N, H, W) uint8, exactly PIL `convert("L")`."""
    n, h, w, _ = frames.shape
    tall = Image.fromarray(np.ascontiguousarray(frames).reshape(n * h, w, 3), "RGB").convert("L")
    return np.asarray(tall).reshape(n, h, w)


def resize32(gray_frames: np.ndarray) -> np.ndarray:
    """(N, H, W) uint8 -> (N, 32, 32) float64 holding the uint8 values of PIL `resize((32, 32), LANCZOS)`."""
    n, h, w = gray_frames.shape
    if (h, w) == (IMG_SIZE, IMG_SIZE):           # PIL returns a copy, no resampling
        return gray_frames.astype(np.float64)
    out = gray_frames.astype(np.float64)
    if w != IMG_SIZE:                            # horizontal pass, then clip to uint8 like Pillow's temp image
        out = _clip8(_horizontal(out.reshape(n * h, w), IMG_SIZE)).reshape(n, h, IMG_SIZE)
    if h != IMG_SIZE:                            # vertical pass
        out = _clip8(np.matmul(resample_matrix(h, IMG_SIZE), out))
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
    """pHash of each RGB uint8 frame ((N, H, W, 3) array or a list of same-shaped (H, W, 3) arrays) -> (N,) uint64.

    Bit-identical to `imagehash.phash(Image.fromarray(frame))` for every frame.
    """
    if isinstance(frames, list):
        if not frames:
            return np.zeros(0, dtype=np.uint64)
        frames = np.stack(frames)
    frames = np.asarray(frames)
    if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8:
        raise ValueError(f"phash_frames wants (N, H, W, 3) uint8 RGB, got {frames.shape} {frames.dtype}")
    out = np.empty(len(frames), dtype=np.uint64)
    for i in range(0, len(frames), _BATCH):
        chunk = frames[i:i + _BATCH]
        out[i:i + len(chunk)] = pack(_bits_from_small(resize32(gray(chunk))))
    return out


def phash_image(image: Image.Image) -> int:
    """pHash of one PIL image of any mode, as imagehash.phash would compute it (as an int)."""
    g = np.asarray(image.convert("L"))[None]
    return int(pack(_bits_from_small(resize32(g)))[0])


def imagehash_int(h) -> int:
    """An `imagehash.ImageHash` (8x8) as our uint64 convention."""
    return int(str(h), 16)


def hamming(a: int, b: int) -> int:
    return (int(a) ^ int(b)).bit_count()


def majority(hashes) -> int:
    """Per-bit strict majority of 64-bit hashes: bit set when more than half of the inputs have it set."""
    h = np.asarray(hashes, dtype=np.uint64)
    if h.size == 0:
        raise ValueError("majority of no hashes")
    bits = ((h[:, None] >> np.arange(63, -1, -1, dtype=np.uint64)) & np.uint64(1)).astype(np.int64)
    return int(pack(bits.sum(axis=0)[None] * 2 > len(h))[0])
