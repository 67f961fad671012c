"""A transformation world for near-duplicate decontamination (tests/integration/test_neardup_transforms.py and
tests/benchmarks/bench_neardup.py): benchmark-like lecture videos, transformed copies of them, and hard negatives.

- Templates: a channel's slide layout (background, title bar, colours, logo corner). Every video uses one.
- Lectures: a sequence of slides changing every 4-9 s (bullets that build up, charts, equations, photos, two
  columns), optionally with a black intro/outro, a title card and fades. Frames are drawn with OpenCV at
  160x90 on demand, for any time t (slides are cached).
- Copies of a benchmark lecture: time shift 0-19 s (the copy starts that far into the original, or after an
  intro of its own), re-encode at another size and quality (JPEG in memory, libx264 for files), crop or
  letterbox/pillarbox up to 10%, brightness/contrast up to 15%, a logo overlay, a cut to a clip of 40-60 s.
- Negatives: other lectures of the same templates (same layout, other content), some with black intros and
  outros, fades and title cards, as the benchmark lectures have.

`Video.grid()` hashes a video's frames at the 1 Hz grid through jobs.media.windows.grid_from_frames (the same
PHasher code as decoded files); `encode()` writes an H.264 file for the real decode path.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path

import av
import cv2
import numpy as np

from jobs.media.windows import Grid, grid_from_frames, grid_points

W, H = 160, 90
_WORDS = ("energy", "momentum", "lemma", "vector", "kernel", "enzyme", "market", "theorem", "entropy", "graph",
          "neuron", "signal", "proof", "matrix", "cell", "orbit", "price", "field", "limit", "force", "atom")


@dataclass(frozen=True)
class Template:
    """A channel's slide layout."""
    seed: int
    bg: tuple
    bar: tuple
    ink: tuple
    accent: tuple
    bar_h: int
    dark: bool            # light text on a dark background


def template(seed: int) -> Template:
    r = np.random.default_rng(10_000 + seed)
    dark = bool(r.random() < 0.3)
    bg = tuple(int(v) for v in (r.integers(10, 60, 3) if dark else r.integers(215, 256, 3)))
    ink = tuple(int(v) for v in (r.integers(200, 256, 3) if dark else r.integers(0, 60, 3)))
    return Template(seed, bg, tuple(int(v) for v in r.integers(30, 200, 3)), ink,
                    tuple(int(v) for v in r.integers(0, 256, 3)), int(r.integers(10, 20)), dark)


@dataclass(frozen=True)
class Lecture:
    """A lecture video: (start, end, kind, seed) segments; kind is black | title | slide."""
    tpl: Template
    seed: int
    duration_s: float
    segments: tuple
    fades: bool = False


def lecture(tpl: Template, seed: int, duration_s: float, intro_s: float = 0.0, title_s: float = 0.0,
            outro_s: float = 0.0, fades: bool = False) -> Lecture:
    r = np.random.default_rng(seed)
    segs, t = [], 0.0
    if intro_s:
        segs.append((0.0, intro_s, "black", 0))
        t = intro_s
    if title_s:
        segs.append((t, t + title_s, "title", int(r.integers(1 << 30))))
        t += title_s
    end = duration_s - outro_s
    while t < end - 1e-9:
        d = float(r.uniform(4.0, 9.0))
        segs.append((t, min(t + d, end), "slide", int(r.integers(1 << 30))))
        t += d
    if outro_s:
        segs.append((end, duration_s, "black", 0))
    return Lecture(tpl, seed, float(duration_s), tuple(segs), fades)


def _text(img, s: str, org, scale: float, color, thick: int = 1) -> None:
    cv2.putText(img, s, (int(org[0]), int(org[1])), cv2.FONT_HERSHEY_SIMPLEX, scale, color, thick, cv2.LINE_AA)


@lru_cache(maxsize=4096)
def _slide(tpl: Template, kind: str, seed: int, build: int) -> np.ndarray:
    """One slide image (H, W, 3) uint8: `build` = how many of its bullets are shown so far."""
    r = np.random.default_rng(seed)
    img = np.empty((H, W, 3), np.uint8)
    img[:] = tpl.bg
    if kind == "title":                          # the channel's title card: same layout, other words
        img[H // 3:2 * H // 3] = tpl.bar
        _text(img, " ".join(r.choice(_WORDS, 2)), (W * 0.12, H * 0.55), 0.5, tpl.ink, 1)
        _text(img, f"Lecture {int(r.integers(1, 40))}", (W * 0.3, H * 0.85), 0.35, tpl.ink)
        return img
    img[:tpl.bar_h] = tpl.bar                                       # title bar and slide title
    _text(img, " ".join(r.choice(_WORDS, int(r.integers(1, 4)))), (4, tpl.bar_h - 3), 0.33, tpl.ink)
    layout = int(r.integers(0, 5))
    y0, body = tpl.bar_h + 4, H - tpl.bar_h - 8
    if layout == 0:                                                  # bullets
        for i in range(min(build, int(r.integers(3, 7)))):
            y = y0 + 8 + i * 12
            x = int(r.integers(4, 30))
            _text(img, "- " + " ".join(r.choice(_WORDS, int(r.integers(1, 5)))), (x, y), 0.3, tpl.ink)
    elif layout == 1:                                                # bar chart / plot
        n = int(r.integers(3, 9))
        x0, x1 = int(r.integers(5, 60)), int(r.integers(100, W - 5))
        vals = r.uniform(0.1, 1.0, n)
        for i, v in enumerate(vals[:max(1, build * 2)]):
            xa = x0 + (x1 - x0) * i // n
            cv2.rectangle(img, (xa, H - 6), (xa + (x1 - x0) // n - 2, int(H - 6 - v * body)), tpl.accent, -1)
    elif layout == 2:                                                # equation, centred, big
        _text(img, f"{r.choice(_WORDS)} = {int(r.integers(2, 99))}x^{int(r.integers(2, 5))}",
              (int(r.integers(5, 40)), int(y0 + body * r.uniform(0.3, 0.8))), float(r.uniform(0.4, 0.6)),
              tpl.ink, 1)
    elif layout == 3:                                                # photo: a smooth random image
        h0, w0 = int(r.integers(body // 2, body)), int(r.integers(W // 3, W * 3 // 4))
        x, y = int(r.integers(0, W - w0)), y0
        photo = cv2.resize(r.integers(0, 256, (4, 6, 3)).astype(np.uint8), (w0, h0), interpolation=cv2.INTER_CUBIC)
        img[y:y + h0, x:x + w0] = photo
    else:                                                            # two columns: text and a diagram
        for i in range(min(build, int(r.integers(2, 5)))):
            _text(img, " ".join(r.choice(_WORDS, 2)), (4, y0 + 10 + i * 12), 0.28, tpl.ink)
        c = (int(r.integers(95, 140)), int(r.integers(y0 + 15, H - 15)))
        cv2.circle(img, c, int(r.integers(8, 22)), tpl.accent, -1 if r.random() < 0.5 else 2)
        cv2.line(img, (c[0] - 30, c[1] + 10), (c[0] + 25, c[1] - 20), tpl.ink, 1)
    return img


def frame_at(lec: Lecture, t: float) -> np.ndarray:
    """The lecture's (H, W, 3) RGB frame at time t (clamped to the video)."""
    t = min(max(t, 0.0), lec.duration_s - 1e-6)
    for i, (a, b, kind, seed) in enumerate(lec.segments):
        if a <= t < b:
            break
    if kind == "black":
        return np.zeros((H, W, 3), np.uint8)
    build = 1 + int((t - a) // 2.0)                                  # bullets appear every 2 s
    img = _slide(lec.tpl, kind, seed, min(build, 8))
    if lec.fades:                                                    # fade in/out at black and title edges
        near = [abs(t - e) for j, (a2, b2, k2, _) in enumerate(lec.segments) for e in (a2, b2)
                if k2 != "slide" or j == 0 or j == len(lec.segments) - 1]
        alpha = min([1.0] + [d / 1.5 for d in near])
        if alpha < 1.0:
            img = (img.astype(np.float32) * alpha).astype(np.uint8)
    # a pointer moving over the slide
    img = img.copy()
    cv2.circle(img, (int(W * (0.5 + 0.4 * np.sin(t * 0.7 + lec.seed))), int(H * (0.6 + 0.3 * np.cos(t * 0.5)))),
               2, (220, 30, 30), -1)
    return img


@dataclass(frozen=True)
class Transform:
    """How a copy differs from its original."""
    name: str = "reencode"
    shift_s: float = 0.0             # copy time 0 = original time shift_s (negative: the copy has an intro first)
    clip_s: float | None = None      # the copy is a clip of this length
    size: tuple = (W, H)
    crop: tuple = (0.0, 0.0, 0.0, 0.0)   # fractions cut off left, top, right, bottom
    letterbox: float = 0.0           # fraction of the height (> 0) or width (< 0: pillarbox) turned into bars
    brightness: float = 0.0          # added, as a fraction of 255
    contrast: float = 1.0
    logo: bool = False
    jpeg: int = 60                   # re-encode quality (in-memory copies)


def transformed(frame: np.ndarray, tr: Transform) -> np.ndarray:
    h, w = frame.shape[:2]
    l, t, r, b = tr.crop
    img = frame[int(round(t * h)):h - int(round(b * h)), int(round(l * w)):w - int(round(r * w))]
    ow, oh = tr.size
    if tr.letterbox:
        f = abs(tr.letterbox)
        cw, ch = (ow, int(round(oh * (1 - f)))) if tr.letterbox > 0 else (int(round(ow * (1 - f))), oh)
        out = np.zeros((oh, ow, 3), np.uint8)
        y, x = (oh - ch) // 2, (ow - cw) // 2
        out[y:y + ch, x:x + cw] = cv2.resize(img, (cw, ch), interpolation=cv2.INTER_AREA)
        img = out
    else:
        img = cv2.resize(img, (ow, oh), interpolation=cv2.INTER_AREA)
    if tr.brightness or tr.contrast != 1.0:
        img = np.clip((img.astype(np.float32) - 128) * tr.contrast + 128 + 255 * tr.brightness, 0, 255).astype(np.uint8)
    if tr.logo:                                          # a channel logo in the top-right corner (1/10 x 1/8)
        lw, lh = ow // 10, oh // 8
        cv2.rectangle(img, (ow - lw - 3, 3), (ow - 3, 3 + lh), (250, 250, 250), -1)
        cv2.circle(img, (ow - lw // 2 - 3, 3 + lh // 2), lh // 3, (200, 20, 20), -1)
    if tr.jpeg < 100:
        ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, tr.jpeg])
        img = cv2.imdecode(buf, cv2.IMREAD_UNCHANGED)
    return img


@dataclass
class Video:
    """A corpus or benchmark video: `frame(t)` in copy time, its duration and what it is."""
    video_id: str
    lec: Lecture
    tr: Transform | None = None      # None: the lecture itself
    copy_of: str | None = None       # the benchmark video this is a copy of
    intro: Lecture | None = field(default=None, repr=False)   # the copier's own intro (shift_s < 0)

    @property
    def duration_s(self) -> float:
        if self.tr is None:
            return self.lec.duration_s
        d = self.lec.duration_s - max(self.tr.shift_s, 0.0) - min(self.tr.shift_s, 0.0)
        return float(min(d, self.tr.clip_s or d))

    def frame(self, t: float) -> np.ndarray:
        if self.tr is None:
            return frame_at(self.lec, t)
        src = t + self.tr.shift_s
        img = frame_at(self.intro, t) if src < 0 and self.intro is not None else frame_at(self.lec, src)
        return transformed(img, self.tr)

    def grid(self) -> Grid:
        """Hash this video's 1 Hz grid frames in memory, through the code path decoded files take."""
        d = self.duration_s
        return grid_from_frames([self.frame(t) for _, t in grid_points(d)], d)

    def encode(self, path: Path, fps: int = 4, crf: int = 30, gop_s: float = 2.0) -> Path:
        """Write this video as H.264 (yuv420p) at its frame size: the real decode path."""
        img = self.frame(0.0)
        h, w = img.shape[:2]
        with av.open(str(path), "w") as out:
            st = out.add_stream("libx264", rate=fps)
            st.width, st.height, st.pix_fmt = w - w % 2, h - h % 2, "yuv420p"
            st.codec_context.gop_size = int(gop_s * fps)
            st.codec_context.options = {"preset": "ultrafast", "crf": str(crf), "sc_threshold": "0"}
            for i in range(int(round(self.duration_s * fps))):
                a = np.ascontiguousarray(self.frame(i / fps)[:h - h % 2, :w - w % 2])
                for pkt in st.encode(av.VideoFrame.from_ndarray(a, format="rgb24")):
                    out.mux(pkt)
            for pkt in st.encode(None):
                out.mux(pkt)
        return Path(path)


KINDS = ("reencode", "crop", "letterbox", "pillarbox", "brightness", "contrast", "logo", "clip", "intro", "combo")


def make_transform(kind: str, r: np.random.Generator, duration_s: float) -> Transform:
    """A random transform of `kind` (always with a re-encode at another size and quality)."""
    size = [(160, 90), (128, 72), (192, 108), (96, 54), (176, 99)][int(r.integers(0, 5))]
    base = Transform(kind, shift_s=float(r.uniform(0, 19)), size=size, jpeg=int(r.integers(35, 85)))
    f = float(r.uniform(0.05, 0.10))
    if kind == "crop":
        a = float(r.uniform(0, 1))
        return replace(base, crop=(f * a / 2, f * (1 - a) / 2, f * a / 2, f * (1 - a) / 2))
    if kind in ("letterbox", "pillarbox"):
        return replace(base, letterbox=f if kind == "letterbox" else -f)
    if kind == "brightness":
        return replace(base, brightness=float(r.choice([-1, 1]) * r.uniform(0.08, 0.15)))
    if kind == "contrast":
        return replace(base, contrast=float(1 + r.choice([-1, 1]) * r.uniform(0.08, 0.15)))
    if kind == "logo":
        return replace(base, logo=True)
    if kind == "clip":
        clip = float(r.uniform(40, 60))
        return replace(base, shift_s=float(r.uniform(0, max(0.0, duration_s - clip))), clip_s=clip)
    if kind == "intro":
        return replace(base, shift_s=-float(r.uniform(2, 19)))
    if kind == "combo":
        # several at once, milder; all stacked at their maxima (10% crop, 15% brightness and contrast, logo, JPEG
        # q40) is not part of the goal, bench_neardup.py reports it apart (kind "stacked")
        return replace(base, crop=(f / 8,) * 4, brightness=0.08, logo=True, jpeg=50)
    if kind == "stacked":
        return replace(base, crop=(f / 4,) * 4, brightness=0.12, contrast=0.88, logo=True, jpeg=40)
    return base


@dataclass
class World:
    bench: list[Video]
    copies: list[Video]
    negatives: list[Video]


def build(n_bench: int, n_copies: int, n_negatives: int, seed: int = 0, n_templates: int = 8,
          duration_s: tuple = (70.0, 140.0)) -> World:
    """Benchmark lectures, copies of them (every transform kind in turn) and same-template negatives."""
    r = np.random.default_rng(seed)
    tpls = [template(seed * 100 + i) for i in range(n_templates)]

    def lec(i: int, kind: str) -> Lecture:
        tpl = tpls[i % n_templates]
        extras = {}
        if r.random() < 0.4:
            extras = {"intro_s": float(r.uniform(1, 6)), "title_s": float(r.uniform(3, 8)),
                      "outro_s": float(r.uniform(0, 8)), "fades": bool(r.random() < 0.7)}
        return lecture(tpl, int(r.integers(1 << 30)), float(r.uniform(*duration_s)), **extras)

    bench = [Video(f"bench{i:05d}", lec(i, "bench")) for i in range(n_bench)]
    copies = []
    for i in range(n_copies):
        orig = bench[i % n_bench]
        kind = KINDS[i % len(KINDS)]
        tr = make_transform(kind, r, orig.lec.duration_s)
        intro = lecture(template(int(r.integers(1 << 20))), int(r.integers(1 << 30)), 30.0, title_s=30.0) \
            if tr.shift_s < 0 else None
        copies.append(Video(f"copy{i:05d}_{kind}", orig.lec, tr, orig.video_id, intro))
    negatives = []
    for i in range(n_negatives):
        tr = make_transform("reencode", r, 0.0)
        negatives.append(Video(f"neg{i:05d}", lec(int(r.integers(n_templates)), "neg"), replace(tr, shift_s=0.0)))
    return World(bench, copies, negatives)


def corpus_rows(videos, grids: dict | None = None) -> list[dict]:
    """window_hashes-like rows (fixed grid) of corpus videos."""
    out = []
    for v in videos:
        g = grids[v.video_id] if grids else v.grid()
        out += [{"video_id": v.video_id, **w} for w in g.fixed()]
    return out


def bench_rows(videos, grids: dict | None = None, benchmark: str = "bench") -> list[dict]:
    """benchmark_windows-like rows (a window every second) of benchmark videos."""
    out = []
    for v in videos:
        g = grids[v.video_id] if grids else v.grid()
        out += [{"benchmark": benchmark, "bench_video_id": v.video_id, "item_id": f"item-{v.video_id}", **w}
                for w in g.sliding()]
    return out


def load(con, corpus: list[dict], bench: list[dict]) -> None:
    """Register the rows as _corpus_src / _bench_src (what jobs.dedup.neardup.near_duplicates reads)."""
    import polars as pl
    for name, rows in (("_corpus_src", corpus), ("_bench_src", bench)):
        df = pl.DataFrame(rows, schema_overrides={"phash": pl.UInt64, "phash2": pl.UInt64, "window_index": pl.Int32,
                                                  "quality": pl.Int32})
        con.execute(f"CREATE OR REPLACE TEMP TABLE {name} AS SELECT * FROM df")


def score(found, copies, negatives) -> dict:
    """Recall over copies (matched to their own original) and the negatives flagged."""
    got = set(zip(found["video_id"].to_list(), found["bench_video_id"].to_list())) if found.height else set()
    flagged = {v for v, _ in got}
    missed = [c.video_id for c in copies if (c.video_id, c.copy_of) not in got]
    own = {(c.video_id, c.copy_of) for c in copies}
    wrong = sorted({v for v, b in got if v in {c.video_id for c in copies} and (v, b) not in own})
    false = sorted(n.video_id for n in negatives if n.video_id in flagged)
    return {"recall": 1 - len(missed) / max(1, len(copies)), "missed": missed, "false": false,
            "wrong_original": wrong}
