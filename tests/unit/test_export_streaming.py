"""Streaming export: the files are byte-identical to the old whole-file way, and memory follows the batch, not the rows.

The reference below is the pre-streaming export, inline: every row read into dicts with one query, each file built
whole in memory (json.dumps of the full list, one parquet row group). The streamed export must give the same bytes
and the same manifest; its peak Python heap (tracemalloc) must not grow with the number of examples.
"""
from __future__ import annotations

import gc
import hashlib
import io
import json
import math
import tracemalloc

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from jobs import export
from jobs.export import manifest as manifest_mod
from jobs.export import rows as rows_mod
from jobs.export import writers
from jobs.export.rows import ExportRows
from jobs.export.recipes import DS_Z3, LLAMAFACTORY_YAML
from jobs.media.model_frames import MAX_FPS, MAX_FRAMES
from jobs.prompts.instruction import PROMPT_VERSION, response, solution

SEED = 7
# ~6.4 KB an example, as in the paper's release; escapes, non-ASCII and U+2028 exercise the JSON framing
THINK = "".join(f"Step {j}: the bob swings — é 中文 \"quoted\" back\\slash\ttab\u2028.\n" for j in range(100))
QUESTION = "Which way does the pendulum swing first, and why? " * 24


def _examples(start: int, n: int) -> list[dict]:
    out = []
    for i in range(start, start + n):
        mc = i % 3 != 2
        out.append({"candidate_id": f"qa-{i:06d}", "video_id": f"v{i // 3:05d}", "kp_id": "kp-1",
                    "subject_id": ["physics", "chemistry", "计算机"][i // 3 % 3],
                    "skill": "basic_video_reasoning", "problem_type": "multiple choice" if mc else "open-ended",
                    "question": f"{QUESTION} #{i}", "options": ["A. Left", "B. Right é"] if mc else None,
                    "answer": "B" if mc else f"{i % 7} s", "think": THINK + str(i)})
    return out


def _fill(wh, home, start: int, n: int) -> None:
    """n verified examples (3 per video) with splits, downloads and model frames; per 10 videos one is
    contaminated, one has no video path, one an empty path, one no split; decoy frames at another budget."""
    qa = _examples(start, n)
    vids = sorted({(q["video_id"], q["subject_id"]) for q in qa})
    k = {v: int(v[1:]) % 10 for v, _ in vids}
    wh.write("verified_qa", qa, "test")
    wh.write("splits", [{"video_id": v, "subject_id": s, "split": "sft" if int(v[1:]) % 25 < 16 else "rl",
                         "seed": SEED, "ratio": 0.64, "bucket": 0.5, "examples": 3}
                        for v, s in vids if k[v] != 7], "test")
    (home / "media").mkdir(exist_ok=True)
    for v, _ in vids:
        if k[v] not in (5, 6):
            (home / "media" / f"{v}.mp4").write_bytes(b"x")   # linked into the folders, never decoded here
    wh.write("downloads", [{"video_id": v, "subject_id": s, "status": "ok",
                            "path": None if k[v] == 5 else "" if k[v] == 6 else str(home / "media" / f"{v}.mp4")}
                           for v, s in vids], "test")
    wh.write("model_frames", [{"video_id": v, "subject_id": s, "sha256": "x", "budget_frames": b, "max_fps": MAX_FPS,
                               "timestamps": [round(0.5 * t + b / 1000, 3) for t in range(b // 16)]}
                              for v, s in vids for b in (MAX_FRAMES, 64) if k[v] % 2 == 0 or b == 64], "test")
    wh.write("contamination", [{"video_id": v, "subject_id": s, "benchmark": "mmvu", "matched_item": "x",
                                "method": "youtube_id", "score": 1.0} for v, s in vids if k[v] == 3], "test")


# ---- the old, whole-in-memory export (reference) ----

def _old_read(wh, snap: int) -> tuple[list[dict], dict]:
    p = {"subjects": [], "all_subjects": True}
    rows = wh.query(rows_mod._EXAMPLES_SQL.format(v=snap), p | {"frame_budget": MAX_FRAMES, "max_fps": MAX_FPS}).to_dicts()
    excluded = wh.query(rows_mod._EXCLUDED_SQL.format(v=snap), p).to_dicts()[0]
    keep = [r for r in rows if r["video_path"]]
    excluded = {k: int(x or 0) for k, x in excluded.items()} | {"missing_video": len(rows) - len(keep)}
    for r in keep:
        r["options"] = list(r["options"] or [])
        r["frame_timestamps"] = list(r["frame_timestamps"] or [])
    return keep, excluded


def _old_parquet(recs: list[dict], row_group_size: int | None = None) -> bytes:
    buf = io.BytesIO()
    pq.write_table(pa.Table.from_pylist(recs, schema=writers._VERL_SCHEMA), buf, compression="zstd",
                   compression_level=3, use_dictionary=False, write_statistics=True, version="2.6",
                   data_page_version="1.0", row_group_size=row_group_size or max(1, len(recs)))
    return buf.getvalue()


def _old_verl_recs(rows: list[dict], split: str) -> list[dict]:
    video = {"fps": 2.0, "max_frames": 128, "min_frames": 4, "max_pixels": 100352, "min_pixels": 100352}
    return [{"data_source": "videokr", "prompt": [{"role": "user", "content": "<video>\n" + writers._prompt(e)}],
             "videos": [{"video": _rel(e)} | video], "ability": "video_qa",
             "reward_model": {"style": "rule", "ground_truth": f"<answer>{e['answer']}</answer>"},
             "extra_info": {"problem_id": e["problem_id"], "problem_type": e["problem_type"], "answer": e["answer"],
                            "solution": f"<answer>{e['answer']}</answer>", "source_path": _rel(e), "split": split,
                            "index": i}}
            for i, e in enumerate(rows)]


def _rel(e: dict) -> str:
    return f"videos/{e['video_id']}.mp4"


def _old_files(ex: list[dict]) -> dict[str, dict[str, bytes]]:
    sft, rl = [e for e in ex if e["split"] == "sft"], [e for e in ex if e["split"] == "rl"]
    frames, prompt = writers._frames, writers._prompt

    def jsonl(recs):
        return "".join(json.dumps(r, ensure_ascii=False, separators=(",", ":")) + "\n" for r in recs).encode()

    def js(obj):
        return (json.dumps(obj, ensure_ascii=False, indent=2) + "\n").encode()

    def vk(e, sft_row):
        r = {"problem_id": e["problem_id"], "problem": e["question"], "data_type": "video",
             "problem_type": e["problem_type"], "options": e["options"]}
        if sft_row:
            r["process"] = f"<think>{e['think'].strip()}</think>"
        return r | {"solution": solution(e["answer"]), "path": _rel(e), "data_source": "videokr"} | frames(e)

    def user(e):
        return {"role": "user", "content": [{"type": "video", "video": _rel(e)}, {"type": "text", "text": prompt(e)}]}

    def lf(rows):
        return [{"messages": [{"role": "user", "content": "<video>\n" + prompt(e)},
                              {"role": "assistant", "content": response(e["think"], e["answer"])}],
                 "videos": [_rel(e)]} for e in rows]
    info = {f"videokr_{s}": {"file_name": f"{s}.json", "formatting": "sharegpt",
                             "columns": {"messages": "messages", "videos": "videos"},
                             "tags": {"role_tag": "role", "content_tag": "content", "user_tag": "user",
                                      "assistant_tag": "assistant"}} for s, rows in (("sft", sft), ("rl", rl)) if rows}
    return {
        "videokr": {"sft.jsonl": jsonl([vk(e, True) for e in sft]), "rl.jsonl": jsonl([vk(e, False) for e in rl])},
        "llamafactory": {"sft.json": js(lf(sft)), "rl.json": js(lf(rl)), "dataset_info.json": js(info),
                         "train_sft.yaml": LLAMAFACTORY_YAML.encode(), "ds_z3_config.json": js(DS_Z3)},
        "verl": {"rl.parquet": _old_parquet(_old_verl_recs(rl, "rl")),
                 "sft.parquet": _old_parquet(_old_verl_recs(sft, "sft"))},
        "trl": {"sft.jsonl": jsonl([{"messages": [user(e), {"role": "assistant", "content": [
                    {"type": "text", "text": response(e["think"], e["answer"])}]}],
                    "problem_id": e["problem_id"], "video_path": _rel(e)} | frames(e) for e in sft]),
                "rl.jsonl": jsonl([{"prompt": [user(e)], "solution": solution(e["answer"]),
                                    "problem_type": e["problem_type"], "problem_id": e["problem_id"],
                                    "video_path": _rel(e)} | frames(e) for e in rl])}}


def _old_manifest(fmt: str, snap: int, files: dict[str, bytes], ex: list[dict], excluded: dict) -> dict:
    return {"export_id": f"{fmt}-snap{snap}-seed{SEED}-all", "format": fmt, "snapshot_id": snap, "split_seed": SEED,
            "subjects": [], "prompt_version": PROMPT_VERSION,
            "videos": {"mode": "link", "count": len({e["video_id"] for e in ex})},
            "files": {n: {"rows": writers.count_rows(n, d), "bytes": len(d), "sha256": hashlib.sha256(d).hexdigest()}
                      for n, d in sorted(files.items())},
            "examples": {s: sum(e["split"] == s for e in ex) for s in ("sft", "rl")},
            "excluded_examples": dict(sorted(excluded.items()))}


# ---- tests ----

def test_streamed_files_and_manifest_match_the_in_memory_export(settings, wh, home, tmp_path, monkeypatch):
    monkeypatch.setattr(rows_mod, "BATCH_ROWS", 256)                     # many batches per split
    _fill(wh, home, 0, 3000)
    out = export.run(settings, params={"out": str(tmp_path / "x")})
    snap = out["snapshot_id"]
    ex, excluded = _old_read(wh, snap)
    assert out["excluded"] == excluded and excluded["contaminated"] and excluded["missing_video"] and excluded["unsplit"]
    assert out["examples"] == {s: sum(e["split"] == s for e in ex) for s in ("sft", "rl")}
    assert 0 < out["examples"]["rl"] < writers.ROW_GROUP_ROWS                # one row group: old parquet bytes
    assert any(e["frame_timestamps"] for e in ex) and not all(e["frame_timestamps"] for e in ex)
    for fmt, files in _old_files(ex).items():
        folder = tmp_path / "x" / f"{fmt}-snap{snap}-seed{SEED}-all"
        assert out["exports"][fmt] == str(folder)
        assert sorted(p.name for p in folder.iterdir()) == sorted(list(files) + ["manifest.json", "videos"])  # no temp
        assert len(list((folder / "videos").iterdir())) == len({e["video_id"] for e in ex})
        for name, data in files.items():
            assert (folder / name).read_bytes() == data, f"{fmt}/{name}"
        want = manifest_mod.manifest_bytes(_old_manifest(fmt, snap, files, ex, excluded))
        assert (folder / "manifest.json").read_bytes() == want, fmt
        assert export.verify_folder(folder) == []

    # several fixed-size row groups: the same bytes as pq.write_table of all rows at that row-group size
    monkeypatch.setattr(writers, "ROW_GROUP_ROWS", 300)
    m = export.export(settings, "verl", tmp_path / "y", snapshot=snap)
    again = export.export(settings, "verl", tmp_path / "z", snapshot=snap)
    data = (tmp_path / "y" / m["export_id"] / "rl.parquet").read_bytes()
    assert data == (tmp_path / "z" / again["export_id"] / "rl.parquet").read_bytes()
    rl = [e for e in ex if e["split"] == "rl"]
    assert data == _old_parquet(_old_verl_recs(rl, "rl"), 300)
    meta = pq.ParquetFile(io.BytesIO(data)).metadata
    assert meta.num_row_groups == math.ceil(len(rl) / 300) and meta.row_group(0).num_rows == 300
    assert m["files"]["rl.parquet"]["rows"] == len(rl) == m["examples"]["rl"]


@pytest.mark.parametrize("n", [0, 1, 2, 7])
def test_json_array_and_parquet_framing_small(n):
    recs = [{"messages": [{"role": "user", "content": f"<video>é\u2028\"{i}\"\n"}], "videos": [], "x": {}}
            for i in range(n)]
    buf = io.BytesIO()
    assert writers._json_array(buf, iter(recs)) == n
    assert buf.getvalue() == (json.dumps(recs, ensure_ascii=False, indent=2) + "\n").encode()
    ex = [{"problem_id": f"p{i}", "video_id": "v", "subject_id": "s", "skill": "k", "problem_type": "open-ended",
           "question": "q?", "options": [], "answer": "a", "think": "t", "split": "rl", "seed": 1,
           "video_path": "/m/v.mp4"} for i in range(n)]
    got = writers.verl(ExportRows(1, ex, batch_rows=2), {})
    assert got["rl.parquet"] == _old_parquet(_old_verl_recs(ex, "rl"))
    assert got["sft.parquet"] == _old_parquet([])                          # an empty split: one empty group


def test_failed_stream_leaves_no_partial_files(tmp_path):
    def boom(f):
        f.write(b"half")
        raise RuntimeError("disk full")
    with pytest.raises(RuntimeError):
        manifest_mod.write_folder(tmp_path / "e", {"a.jsonl": lambda f: f.write(b"{}\n") and 1, "b.jsonl": boom},
                                  lambda files: {"files": files})
    assert list((tmp_path / "e").iterdir()) == []


def _peak(fn) -> int:
    gc.collect()
    tracemalloc.start()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_peak_memory_follows_the_batch_not_the_rows(settings, wh, home, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(rows_mod, "BATCH_ROWS", 100)
    monkeypatch.setattr(writers, "ROW_GROUP_ROWS", 200)
    peaks, old = {}, {}
    for n, (start, add) in {1000: (0, 1000), 4000: (1000, 3000)}.items():
        _fill(wh, home, start, add)
        out = tmp_path / f"s{n}"
        peaks[n] = _peak(lambda out=out: export.run(settings, params={"out": str(out)}))
        snap = wh.data_snapshot(rows_mod.INPUT_TABLES)
        old[n] = _peak(lambda snap=snap: _old_files(_old_read(wh, snap)[0]))
        assert sum(json.loads((out / f"videokr-snap{snap}-seed{SEED}-all" / "manifest.json").read_text())
                   ["examples"].values()) > 0.6 * n
    with capsys.disabled():
        print(f"\nexport peak Python heap: streamed {peaks[1000] / 2**20:.1f} MiB @1000 rows, "
              f"{peaks[4000] / 2**20:.1f} MiB @4000; in-memory reference {old[1000] / 2**20:.1f} / "
              f"{old[4000] / 2**20:.1f} MiB")
    assert old[4000] > 3 * old[1000]                                     # the measure does see row-bound memory
    assert peaks[4000] < 1.5 * peaks[1000]
    assert peaks[4000] < old[1000]                                       # below even the small in-memory export
