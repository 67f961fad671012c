"""jobs.media.phash is bit-identical to imagehash.phash: on >= 1000 decoded frames of rendered lecture videos and on
flat/synthetic frames where ties at the median decide bits."""
from __future__ import annotations

import av
import imagehash
import numpy as np
import pytest
from PIL import Image

from jobs.media import phash
from tests.unit.frames_media import render_video


def _ref(a: np.ndarray) -> int:
    return phash.imagehash_int(imagehash.phash(Image.fromarray(a)))


def _decode_all(path) -> list[np.ndarray]:
    with av.open(str(path)) as c:
        return [f.to_ndarray(format="rgb24") for f in c.decode(c.streams.video[0])]


@pytest.fixture(scope="module")
def real_frames(tmp_path_factory):
    """1,080 decoded frames: 960 at 320x180 (40 s at 24 fps, 3 slides) and 120 at 640x360."""
    d = tmp_path_factory.mktemp("media")
    small = _decode_all(render_video(d / "small.mp4", seconds=40, fps=24, size=(320, 180), seed=1, slide_s=13))
    big = _decode_all(render_video(d / "big.mp4", seconds=5, fps=24, size=(640, 360), seed=2))
    return small, big


def test_bit_identical_on_decoded_video_frames(real_frames):
    small, big = real_frames
    assert len(small) + len(big) >= 1000
    for frames in (small, big):
        ours = phash.phash_frames(np.stack(frames))
        ref = np.array([_ref(a) for a in frames], dtype=np.uint64)
        mismatches = np.flatnonzero(ours != ref)
        assert mismatches.size == 0, f"{mismatches.size} frames differ, e.g. frame {mismatches[:5]}"
    # the frames are not trivially alike: many distinct hashes
    assert len(set(phash.phash_frames(np.stack(small)).tolist())) > 20


def test_rgbx_frames_from_the_decoder_hash_like_rgb(real_frames, tmp_path):
    """The stage hashes the decoder's `rgba` output (RGBX, mapped into PIL without a copy): same hash as imagehash
    on the RGB frame, whatever the 4th byte holds; lists of differently sized frames work too."""
    small, big = real_frames
    rgb = big[::3] + small[::40]
    rng = np.random.default_rng(7)
    rgbx = [np.concatenate([a, rng.integers(0, 256, a.shape[:2] + (1,), dtype=np.uint8)], axis=2) for a in rgb]
    ref = [_ref(a) for a in rgb]
    assert phash.phash_frames(rgbx).tolist() == ref
    assert phash.phash_frames(rgb).tolist() == ref
    with av.open(str(render_video(tmp_path / "x.mp4", seconds=2, fps=12, size=(200, 120), seed=9))) as c:
        decoded = list(c.decode(c.streams.video[0]))
    ours = phash.phash_frames([f.to_ndarray(format="rgba") for f in decoded]).tolist()
    assert ours == [_ref(f.to_ndarray(format="rgb24")) for f in decoded]


def test_gray_is_pil_convert_on_every_rgb_value():
    """All 2**24 RGB triples: our gray (RGB and RGBX input) is PIL's convert("L"), i.e. (19595 R + 38470 G +
    7471 B + 0x8000) >> 16."""
    v = np.arange(1 << 24, dtype=np.uint32)
    rgb = np.stack([v & 255, (v >> 8) & 255, v >> 16], axis=1).astype(np.uint8).reshape(4096, 4096, 3)
    want = ((rgb[..., 0].astype(np.uint32) * 19595 + rgb[..., 1].astype(np.uint32) * 38470
             + rgb[..., 2].astype(np.uint32) * 7471 + 0x8000) >> 16).astype(np.uint8)
    assert np.array_equal(phash.gray1(rgb), want)
    rgbx = np.concatenate([rgb, np.full((4096, 4096, 1), 77, np.uint8)], axis=2)
    assert np.array_equal(phash.gray1(rgbx), want)


def _synthetic(h: int, w: int, rng) -> dict[str, np.ndarray]:
    yy, xx = np.mgrid[0:h, 0:w]
    out = {f"gray{v}": np.full((h, w, 3), v, np.uint8) for v in (0, 1, 7, 64, 127, 128, 200, 254, 255)}
    out["black"], out["white"] = out.pop("gray0"), out.pop("gray255")
    out["red"] = np.zeros((h, w, 3), np.uint8)
    out["red"][..., 0] = 255
    out["noise"] = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
    out["coarse_noise"] = (rng.integers(0, 4, (h, w, 3)) * 85).astype(np.uint8)
    out["hgrad"] = np.repeat((xx * 255 // max(w - 1, 1)).astype(np.uint8)[..., None], 3, axis=2)
    out["vgrad"] = np.repeat((yy * 255 // max(h - 1, 1)).astype(np.uint8)[..., None], 3, axis=2)
    out["diag"] = np.repeat(((xx + yy) * 255 // max(h + w - 2, 1)).astype(np.uint8)[..., None], 3, axis=2)
    out["checker"] = np.repeat((((xx // 8 + yy // 8) % 2) * 255).astype(np.uint8)[..., None], 3, axis=2)
    half = np.zeros((h, w, 3), np.uint8)
    half[: h // 2] = 255
    out["half"] = half
    out["dot"] = out["black"].copy()
    out["dot"][h // 2, w // 2] = 255
    return out


@pytest.mark.parametrize("size", [(360, 640), (180, 320), (1080, 1920), (32, 32), (17, 45), (9, 9)])
def test_bit_identical_on_flat_and_synthetic_frames(size):
    rng = np.random.default_rng(size[0] * 7 + size[1])
    frames = _synthetic(*size, rng)
    ours = phash.phash_frames(np.stack(list(frames.values())))
    for (name, a), h in zip(frames.items(), ours):
        assert int(h) == _ref(a), f"{name} {size}: ours {int(h):016x} imagehash {_ref(a):016x}"


def test_flat_frames_hash_like_imagehash_including_ties():
    """Every gray level: the 63 AC coefficients are 0 or rounding noise, so the median and '>' decide bits."""
    frames = np.stack([np.full((90, 160, 3), v, np.uint8) for v in range(256)])
    ours = phash.phash_frames(frames)
    ref = [_ref(a) for a in frames]
    assert [int(h) for h in ours] == ref


def test_phash_image_accepts_any_mode_and_list_input():
    rng = np.random.default_rng(3)
    a = rng.integers(0, 256, (120, 200, 3), dtype=np.uint8)
    for mode in ("RGB", "RGBA", "L", "P", "CMYK"):
        img = Image.fromarray(a).convert(mode)
        assert phash.phash_image(img) == phash.imagehash_int(imagehash.phash(img)), mode
    assert phash.phash_frames([a, a]).tolist() == [_ref(a)] * 2
    assert phash.phash_frames([]).size == 0
    with pytest.raises(ValueError, match="uint8 RGB"):
        phash.phash_frames(np.zeros((2, 10, 10), np.uint8))


def test_resample_weights_are_normalised_fixed_point():
    for n_in in (640, 360, 17, 9):
        m = phash.resample_matrix(n_in, 32)
        sums = m.sum(axis=1)
        assert np.all(np.abs(sums - (1 << 22)) <= m.shape[1]), n_in  # rounding of each weight moves by <= 1


def test_majority_and_hamming():
    a, b, c = 0b1100, 0b1010, 0b1001
    assert phash.majority([a, b, c]) == 0b1000
    assert phash.majority([a, b]) == 0b1000          # strict majority: a 1-1 tie gives 0
    assert phash.majority([(1 << 64) - 1]) == (1 << 64) - 1
    assert phash.hamming(a, b) == 2
    with pytest.raises(ValueError):
        phash.majority([])
