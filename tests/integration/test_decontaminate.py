"""Decontaminate stage against a temporary warehouse: registry, YouTube-ID matching, pHash near-duplicates, scoping."""
from __future__ import annotations

import json
import random

import polars as pl
import pytest

from jobs import decontaminate
from jobs.dedup.neardup import NearDupParams

NO_SAMPLE = {"sample_benchmark_videos": False}


def _u64(rows: list[dict]) -> pl.DataFrame:
    return pl.DataFrame(rows, schema_overrides={"phash": pl.UInt64})


def _flip(h: int, n: int, rng: random.Random) -> int:
    for bit in rng.sample(range(64), n):
        h ^= 1 << bit
    return h


def _video(video_id: str, subject: str) -> dict:
    return {"video_id": video_id, "subject_id": subject, "kp_id": "kp-x", "title": video_id, "eligible": True}


def test_registry_loads_real_benchmarks_idempotently(settings, wh):
    out = decontaminate.run(settings, params=NO_SAMPLE)
    assert out["benchmark_items"] == {"mmvu": 1000, "videommmu": 900}
    got = wh.query("SELECT benchmark, count(*) n, count(youtube_id) ids, count(DISTINCT item_id) items "
                   "FROM benchmark_items GROUP BY ALL ORDER BY 1").to_dicts()
    assert got == [{"benchmark": "mmvu", "n": 1000, "ids": 1000, "items": 1000},
                   {"benchmark": "videommmu", "n": 900, "ids": 900, "items": 900}]
    two = wh.query("SELECT youtube_ids FROM benchmark_items WHERE len(youtube_ids) > 1").to_series().to_list()
    assert ["t8dzXoMvbmM", "YvjhsIE-mV0"] in two
    again = decontaminate.run(settings, params=NO_SAMPLE)
    assert again["rows"].get("benchmark_items", 0) == 0          # rerun changes nothing


def test_generic_jsonl_loader_with_dotted_url_field(settings, wh, tmp_path):
    f = tmp_path / "scivideobench.jsonl"
    f.write_text("\n".join(json.dumps(x) for x in [
        {"qid": "q1", "meta": {"url": " https://youtu.be/abcdefghijk?si=zz "}, "question": "Q1?"},
        {"qid": "q2", "meta": {"url": "https://www.youtube.com/embed/ABCDEFGHIJK"}, "question": "Q2?"},
        {"qid": "q3", "meta": {"url": "https://example.org/video.mp4"}, "question": "Q3?"}]) + "\n")
    (tmp_path / "broken.json").write_text("{not json")
    src = [{"name": "scivideobench", "path": str(f), "url_field": "meta.url", "id_field": "qid"},
           {"name": "broken", "path": str(tmp_path / "broken.json"), "url_field": "url"}]
    decontaminate.run(settings, params=NO_SAMPLE | {"benchmark_sources": src})
    rows = wh.query("SELECT item_id, youtube_id, question FROM benchmark_items WHERE benchmark = 'scivideobench' "
                    "ORDER BY item_id").to_dicts()
    assert rows == [{"item_id": "q1", "youtube_id": "abcdefghijk", "question": "Q1?"},
                    {"item_id": "q2", "youtube_id": "ABCDEFGHIJK", "question": "Q2?"},
                    {"item_id": "q3", "youtube_id": None, "question": "Q3?"}]
    q = wh.query("SELECT item, reason FROM quarantine WHERE stage = 'decontaminate'").to_dicts()
    assert q == [{"item": str(tmp_path / "broken.json"), "reason": "bad_benchmark_manifest"}]


def test_youtube_id_matching_scoped_by_subject(settings, wh):
    # VkqytRr85ao is MMVU validation_0's video; U7YqCUd_ZfA is VideoMMMU dev_Biology_3 (all three tracks)
    wh.write("videos", [_video("VkqytRr85ao", "art"), _video("U7YqCUd_ZfA", "biology"),
                        _video("cleanvideo1", "biology")], "test")
    decontaminate.run(settings, subjects=["biology"], params=NO_SAMPLE)
    rows = wh.query("SELECT video_id, benchmark, matched_item, method, score FROM contamination ORDER BY ALL").to_dicts()
    assert rows == [{"video_id": "U7YqCUd_ZfA", "benchmark": "videommmu", "matched_item": t + "/dev_Biology_3",
                     "method": "youtube_id", "score": 1.0} for t in ("Adaptation", "Comprehension", "Perception")]
    decontaminate.run(settings, subjects=["art"], params=NO_SAMPLE)
    per = wh.query("SELECT subject_id, count(*) n FROM contamination GROUP BY 1 ORDER BY 1").to_dicts()
    assert per == [{"subject_id": "art", "n": 1}, {"subject_id": "biology", "n": 3}]   # biology rows kept


def _bench_windows(rng: random.Random, vid: str, n: int) -> list[dict]:
    return [{"benchmark": "sample", "bench_video_id": vid, "item_id": f"item-{vid}", "window_index": i,
             "start_s": 20.0 * i, "end_s": 20.0 * (i + 1), "phash": rng.getrandbits(64), "quality": 100,
             "frame_count": 20} for i in range(n)]


def _corpus(vid: str, subject: str, hashes: list[int], start0: float = 0.0, q: int = 100) -> list[dict]:
    return [{"video_id": vid, "subject_id": subject, "window_index": i, "start_s": start0 + 20.0 * i,
             "end_s": start0 + 20.0 * (i + 1), "phash": h, "frame_count": 20, "quality": q}
            for i, h in enumerate(hashes)]


def test_phash_near_duplicates_caught_and_unrelated_not(settings, wh):
    rng = random.Random(7)
    t = NearDupParams().t
    blank = [w | {"phash": 0, "quality": 0} for w in _bench_windows(rng, "blank", 6)]    # black video
    bench = _bench_windows(rng, "orig1", 12) + _bench_windows(rng, "orig2", 8) + blank
    wh.write("benchmark_windows", _u64(bench), "test")
    b1 = [w["phash"] for w in bench if w["bench_video_id"] == "orig1"]
    b2 = [w["phash"] for w in bench if w["bench_video_id"] == "orig2"]
    corpus = (
        _corpus("reencoded", "physics", [_flip(h, rng.randint(0, t), rng) for h in b1])          # whole copy
        + _corpus("trimmed", "physics", [_flip(h, t, rng) for h in b1[3:9]])                     # starts 60 s in
        + _corpus("withgaps", "physics", [_flip(h, 1, rng) if i % 4 else rng.getrandbits(64)    # every 4th window lost
                                          for i, h in enumerate(b2)])
        + _corpus("toofar", "physics", [_flip(h, t + 2, rng) for h in b1])                       # beyond t
        + _corpus("fewwindows", "physics", [rng.getrandbits(64) for _ in range(5)] + [_flip(b1[0], 1, rng)]
                  + [rng.getrandbits(64) for _ in range(5)])                                     # a single hit
        + _corpus("unrelated", "physics", [rng.getrandbits(64) for _ in range(30)])
        + _corpus("blackintro", "physics", [0] * 4, q=0)                                          # blank windows
        + _corpus("uniform", "physics", [0] * 4, q=100)                # same hash, but only blank bench windows
        + _corpus("othersubject", "chemistry", [_flip(h, 1, rng) for h in b2]))
    wh.write("window_hashes", _u64(corpus), "test")
    wh.write("videos", [_video(v, "physics") for v in ("reencoded", "trimmed", "withgaps", "toofar", "fewwindows",
                                                        "unrelated", "blackintro", "uniform")] + [_video("othersubject", "chemistry")], "test")
    out = decontaminate.run(settings, subjects=["physics"], params=NO_SAMPLE | {"load_registry": False})
    rows = wh.query("SELECT video_id, subject_id, matched_item, method, windows_matched, offset_s FROM contamination "
                    "ORDER BY video_id").to_dicts()
    got = {r["video_id"]: r for r in rows}
    assert set(got) == {"reencoded", "trimmed", "withgaps"}
    assert got["reencoded"]["windows_matched"] == 12 and got["reencoded"]["offset_s"] == 0
    assert got["trimmed"]["windows_matched"] == 6 and got["trimmed"]["offset_s"] == -60.0
    ev = json.loads(wh.query("SELECT evidence FROM contamination WHERE video_id = 'trimmed'").item())
    assert [(e["window_index"], e["bench_start_s"]) for e in ev] == [(i, 20.0 * i + 60) for i in range(6)]
    assert all(0 <= e["distance"] <= t for e in ev)
    assert got["withgaps"]["windows_matched"] == 6 and got["withgaps"]["matched_item"] == "item-orig2"
    assert {r["method"] for r in rows} == {"phash"} and {r["subject_id"] for r in rows} == {"physics"}
    assert out["contaminated_videos"] == ["reencoded", "trimmed", "withgaps"]
    # the other subject is untouched until its own run, then found too
    decontaminate.run(settings, subjects=["chemistry"], params=NO_SAMPLE | {"load_registry": False})
    assert wh.query("SELECT count(*) FROM contamination WHERE video_id = 'othersubject'").item() == 1
    assert wh.query("SELECT count(*) FROM contamination").item() == 4


def test_bad_neardup_params_rejected():
    with pytest.raises(ValueError, match="t must be"):
        NearDupParams(t=64)
    assert NearDupParams.from_params({"t": "2", "k": 5}) == NearDupParams(t=2, k=5)
