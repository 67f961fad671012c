"""The synthetic warehouse bench_scale.py writes: every row of a subject at a fraction f of the paper's scale
(deterministic from a seed), the stages' commit counts at that size, and benchmark windows with planted copies.
Kept apart from the timing code so the data model can be read (and changed) on its own."""
from __future__ import annotations

import hashlib
import os
import random
from datetime import datetime

import polars as pl

PAPER = {"subjects": 82, "knowledge_points": 63_745, "videos": 145_000}
WINDOWS_PER_VIDEO = 17
CHUNK_VIDEOS = int(os.environ.get("BENCH_CHUNK_VIDEOS", 50))   # videos per committed chunk (generate's default)
MEDIA = ["/media"]   # where the synthetic videos live: the bench points it into its home and creates them (1 byte)
U64 = {"phash": pl.UInt64}
CANDIDATES_PER_VIDEO = (6, 7, 7, 8)
PASS_RATE = 0.315
CHECKS = ("self_consistency", "video_dependency", "cot_validation")
SKILLS = ("basic_video_reasoning", "knowledge_enhanced_perception", "knowledge_intensive_reasoning")
WORDS = (  # noqa: SIM905
    "force energy cell enzyme voltage current momentum frame shown diagram graph slope increases decreases "
    "because therefore the video at second the narrator explains equation reaction membrane protein pressure "
    "volume temperature circuit resistor lens image wave frequency amplitude mass charge field gradient "
    "integral derivative matrix vector probability sample population market price demand supply").split()


def _h(*parts, n: int = 16) -> str:
    return hashlib.sha256("/".join(map(str, parts)).encode()).hexdigest()[:n]


def _sentence(rng: random.Random, chars: int) -> str:
    out, n = [], 0
    while n < chars:
        w = rng.choice(WORDS)
        out.append(w)
        n += len(w) + 1
    return " ".join(out).capitalize()


class Pools:
    """Pre-made sentences (~100 chars) and questions (~120 chars): realistic text at a low generation cost."""
    def __init__(self, seed: int):
        rng = random.Random(seed)
        self.lines = [_sentence(rng, 95) + "." for _ in range(4000)]
        self.questions = [_sentence(rng, 118) + "?" for _ in range(4000)]
        self.options = [_sentence(rng, 28) for _ in range(2000)]


def n_subjects(f: float, override: int | None = None) -> int:
    """82 from f=0.1 up; fewer below (4 at f=0.001, 8 at f=0.01) so a default run stays within minutes."""
    return override or min(PAPER["subjects"], max(4, round(10 * PAPER["subjects"] * f)))


def share(total: int, f: float, s: int, n_sub: int) -> int:
    """Subject s's part of round(total * f) (at least 1)."""
    return max(1, round(total * f * (s + 1) / n_sub) - round(total * f * s / n_sub))


def transactions(f: float, n_sub: int) -> int:
    """Commits of one load: per subject 1 (bank) + 3 per chunk, plus benchmark_windows."""
    return 1 + sum(1 + 3 * -(-share(PAPER["videos"], f, s, n_sub) // CHUNK_VIDEOS) for s in range(n_sub))


def backfill_commits(f: float, n_sub: int) -> int:
    return 1 + 3 * -(-share(PAPER["videos"], f, 0, n_sub) // CHUNK_VIDEOS)


# (commits, share of the paper's rows written) of the write phases, for the extrapolation
WRITE_MODEL = {"first load": lambda f, n: (transactions(f, n), f), "identical rewrite": lambda f, n: (transactions(f, n), f),
               "backfill 1 subject": lambda f, n: (backfill_commits(f, n), f / n)}


def subject_data(s: int, f: float, n_sub: int, seed: int, pools: Pools, variant: int = 0) -> dict:
    """Every row of subject `s` at fraction f (deterministic); `variant` > 0 changes content, not keys."""
    rng = random.Random(seed * 1000 + s)
    sid, disc = f"subject-{s:02d}", f"discipline-{s % 4}"
    n_kp, n_vid = share(PAPER["knowledge_points"], f, s, n_sub), share(PAPER["videos"], f, s, n_sub)
    kb = {"subjects": [{"subject_id": sid, "discipline_id": disc, "name": f"Subject {s}", "position": s}],
          "courses": [], "lectures": [], "knowledge_points": []}
    for c in range(max(1, n_kp // 40)):
        cid = f"{sid}/course-{c}"
        kb["courses"].append({"course_id": cid, "subject_id": sid, "name": f"Course {c}", "position": c})
    courses = [c["course_id"] for c in kb["courses"]]
    for k in range(n_kp):
        cid = courses[k % len(courses)]
        lid = f"{cid}/lecture-{k // 8}"
        kb["lectures"].append({"lecture_id": lid, "course_id": cid, "subject_id": sid, "name": lid, "position": k})
        kb["knowledge_points"].append({"kp_id": "kp-" + _h(sid, k, n=12), "lecture_id": lid, "course_id": cid,
                                       "subject_id": sid, "discipline_id": disc, "name": _sentence(rng, 30),
                                       "statement": rng.choice(pools.lines), "keywords": rng.sample(WORDS, 4),
                                       "position": k})
    kb["lectures"] = list({r["lecture_id"]: r for r in kb["lectures"]}.values())
    kps = [k["kp_id"] for k in kb["knowledge_points"]]
    vids, chunks = [], []
    for v in range(n_vid):
        vid = hashlib.sha1(f"{sid}:{v}".encode()).hexdigest()[:11]
        dur = float(rng.randint(60, 1800))
        vids.append({"video_id": vid, "kp_id": kps[v % len(kps)], "subject_id": sid, "query_id": "q-" + _h(vid),
                     "title": _sentence(rng, 50), "description": rng.choice(pools.lines) * 2,
                     "channel_id": "UC" + _h(vid, "c", n=22), "channel_title": "Channel", "video_url":
                     f"https://www.youtube.com/watch?v={vid}", "channel_url": "https://www.youtube.com/channel/x",
                     "license": "creativeCommon", "duration_s": dur, "has_captions": True,
                     "published_at": datetime(2020, 1, 1 + v % 28), "privacy_status": "public", "eligible": True})
    kb["videos"] = vids
    kb["downloads"] = [{"video_id": v["video_id"], "subject_id": sid, "path": f"{MEDIA[0]}/{v['video_id']}.mp4",
                        "captions_path": f"{MEDIA[0]}/{v['video_id']}.vtt", "bytes": 50_000_000, "status": "ok",
                        "downloader": "sample"} for v in vids]
    now = datetime(2025, 1, 1)
    for i in range(0, n_vid, CHUNK_VIDEOS):
        ch = {k: [] for k in ("video_files", "window_hashes", "candidates", "gen_calls", "checks", "verified_qa",
                              "check_calls")}
        for v in vids[i:i + CHUNK_VIDEOS]:
            vid = v["video_id"]
            ch["video_files"].append({"video_id": vid, "subject_id": sid, "path": f"{MEDIA[0]}/{vid}.mp4",
                                      "bytes": 50_000_000, "sha256": _h(vid, n=64), "codec": "h264", "width": 1280,
                                      "height": 720, "fps": 30.0, "duration_s": v["duration_s"],
                                      "frames": int(v["duration_s"] * 30), "status": "ok"})
            for w in range(max(1, round(rng.gauss(WINDOWS_PER_VIDEO, 4)))):
                ch["window_hashes"].append({"video_id": vid, "subject_id": sid, "window_index": w,
                                            "start_s": 20.0 * w, "end_s": 20.0 * w + 20, "phash": rng.getrandbits(64),
                                            "frame_count": 20 + variant})
            for j in range(rng.choice(CANDIDATES_PER_VIDEO)):
                mc = rng.random() < 0.7
                q = rng.choice(pools.questions)
                cand = {"candidate_id": "qa-" + _h(vid, j, q), "video_id": vid, "kp_id": v["kp_id"], "subject_id": sid,
                        "skill": SKILLS[j % 3], "problem_type": "multiple choice" if mc else "open-ended",
                        "question": q, "options": [f"{chr(65 + o)}. {rng.choice(pools.options)}" for o in range(4)]
                        if mc else None, "answer": "B" if mc else _sentence(rng, 20),
                        "think": "\n".join(rng.sample(pools.lines, 6)) + (f"\nRevision {variant}." if variant else ""),
                        "model": f"gen-model-{variant}", "prompt_version": "generate_qa.v1",
                        "call_id": _h(vid, j, "gen", n=64)}
                ch["candidates"].append(cand)
                ch["gen_calls"].append(_call(cand["call_id"], "generator", "generate_qa", rng, now))
                passed = rng.random() < PASS_RATE
                for name in CHECKS:
                    cid = _h(cand["candidate_id"], name, n=64)
                    ch["checks"].append({"candidate_id": cand["candidate_id"], "check_name": name, "passed": passed,
                                         "score": round(rng.random(), 3), "details": '{"answers": ["B", "B", "C"]}',
                                         "model": f"check-model-{variant}", "call_id": cid, "subject_id": sid})
                    ch["check_calls"].append(_call(cid, "solver", "solve", rng, now))
                if passed:
                    ch["verified_qa"].append(cand | {"think_words": len(cand["think"].split()),
                                                     "think_steps": cand["think"].count("\n") + 1})
        chunks.append(ch)
    return {"subject_id": sid, "kb": kb, "chunks": chunks}


def _call(call_id: str, role: str, task: str, rng: random.Random, now: datetime) -> dict:
    return {"call_id": call_id, "request_key": call_id, "role": role, "backend": "offline", "model": "m",
            "prompt_version": f"{task}.v1", "task": task, "via_batch": False, "tokens_in": rng.randint(800, 3000),
            "tokens_out": rng.randint(100, 700), "cost_usd": 0.0, "latency_ms": 10.0, "attempts": 1, "status": "ok",
            "cache_hit": False, "created_at": now}


def df(rows: list[dict]) -> pl.DataFrame:
    return pl.DataFrame(rows, infer_schema_length=None, schema_overrides=U64)


class BenchWindows:
    """Benchmark windows, gathered while the subjects stream by (no step holds every subject's rows): copies (one bit
    flipped) of every `step`-th corpus video (~1%, at least 2), plus as many unrelated videos."""
    def __init__(self, f: float, n_sub: int, seed: int):
        total = sum(share(PAPER["videos"], f, s, n_sub) for s in range(n_sub))
        self.step, self.rng, self.rows, self.seen, self.copies = max(1, min(100, total // 2)), random.Random(seed), [], 0, 0

    def add(self, d: dict) -> None:
        for ch in d["chunks"]:
            windows: dict[str, list[dict]] = {}
            for w in ch["window_hashes"]:
                windows.setdefault(w["video_id"], []).append(w)
            for v in ch["video_files"]:
                if self.seen % self.step == 0:
                    for w in windows.get(v["video_id"], []):
                        self.rows.append({"benchmark": "bench", "bench_video_id": f"copy{self.copies}",
                                          "item_id": f"item{self.copies}", "window_index": w["window_index"],
                                          "start_s": w["start_s"], "end_s": w["end_s"],
                                          "phash": w["phash"] ^ (1 << self.rng.randrange(64)),
                                          "source_path": "/bench/x.mp4"})
                    self.copies += 1
                self.seen += 1

    def frame(self) -> pl.DataFrame:
        rows = list(self.rows)
        for b in range(self.copies):
            for w in range(WINDOWS_PER_VIDEO):
                rows.append({"benchmark": "bench", "bench_video_id": f"other{b}", "item_id": f"o{b}", "window_index": w,
                             "start_s": 20.0 * w, "end_s": 20.0 * w + 20, "phash": self.rng.getrandbits(64),
                             "source_path": "/bench/y.mp4"})
        return pl.DataFrame(rows, schema_overrides=U64)
