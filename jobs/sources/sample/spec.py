"""Video specs of the sample world (a stand-in library): what to render, keyed by a content hash.

A spec is everything that determines a video's bytes: scene type, knowledge point, seed, size, fps and the
planting options. `spec_hash` keys the on-disk render cache; bump RENDER_VERSION when drawing code changes.
"""
from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from pathlib import Path

import yaml

RENDER_VERSION = 8           # 8: x264 preset ultrafast (was veryfast); 7: facts carry frames_needed / vague readings
WIDTH, HEIGHT = 640, 360
FPS = 8.0
GOP_SECONDS = 2.0
INTRO_S = 3.0                      # title card before the animation slide
SCENE_KPS_FILE = Path(__file__).with_name("scene_kps.yaml")
KP_LEVELS = ("discipline", "subject", "course", "lecture", "name")


@dataclass(frozen=True)
class VideoSpec:
    key: str                        # stable logical name, e.g. "kp/oscillator/0" or "plant/offtopic_cooking"
    scene_type: str                 # a scene module name, or "offtopic"
    kp: dict                        # discipline, subject, course, lecture, name
    seed: int
    width: int = WIDTH
    height: int = HEIGHT
    fps: float = FPS
    planted: str | None = None      # plant kind (see planted.py), None for a regular item
    options: dict = field(default_factory=dict)   # flaws, license, captions, copy_of, trim_s, unsafe, ...

    @property
    def video_id(self) -> str:
        return youtube_like_id(f"{self.seed}:{self.key}", self.options.get("video_id"))

    def as_dict(self) -> dict:
        return asdict(self)

    @property
    def spec_hash(self) -> str:
        blob = json.dumps({"v": RENDER_VERSION, **self.as_dict()}, sort_keys=True, default=str)
        return hashlib.sha256(blob.encode()).hexdigest()

    def rng_seed(self, salt: str = "") -> int:
        """A 63-bit seed for numpy from the spec's seed and key (same spec -> same random draws)."""
        h = hashlib.sha256(f"{self.seed}:{self.key}:{salt}".encode()).digest()
        return int.from_bytes(h[:8], "big") >> 1


def youtube_like_id(text: str, fixed: str | None = None) -> str:
    """An 11-character id in YouTube's alphabet [A-Za-z0-9_-], derived from `text` (or `fixed` when given)."""
    if fixed:
        return fixed
    return base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()[:8]).decode()[:11]


@lru_cache(maxsize=4)
def _scene_kp_rows(path: Path) -> tuple:
    """The parsed file, once per process: the library build asks for it once per planted item (30+ times)."""
    raw = yaml.load(path.read_text(), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    return tuple((scene_type, tuple(tuple(row) for row in rows)) for scene_type, rows in raw.items())


def load_scene_kps(path: Path = SCENE_KPS_FILE) -> dict[str, list[dict]]:
    """scene_kps.yaml as {scene_type: [kp dict, ...]} in file order (fresh dicts on every call)."""
    return {scene_type: [dict(zip(KP_LEVELS, row, strict=True)) for row in rows]
            for scene_type, rows in _scene_kp_rows(Path(path))}


def kp_specs(seed: int) -> list[VideoSpec]:
    """One regular spec per knowledge point in scene_kps.yaml."""
    specs = []
    for scene_type, kps in load_scene_kps().items():
        for i, kp in enumerate(kps):
            specs.append(VideoSpec(key=f"kp/{scene_type}/{i}", scene_type=scene_type, kp=kp, seed=seed,
                                   options={"variant": i}))
    return specs
