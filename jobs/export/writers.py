"""The four export formats. Each writer maps ExportRows -> {file name: bytes}; bytes depend only on the rows.

- videokr:      sft.jsonl, rl.jsonl with the released fields (problem_id, problem_type, question, options,
                solution, think (SFT only), video_path).
- llamafactory: sft.json in ShareGPT form (`messages` with a `<video>` placeholder + `videos`) and the
                dataset_info.json entry that registers it (formatting sharegpt, role/content tags).
- verl:         rl.parquet with data_source, prompt (chat list, `<video>` placeholder), videos
                ([{video, fps, max_frames}]), ability, reward_model {style, ground_truth}, extra_info.
- trl:          sft.jsonl (conversational language modeling: `messages` with typed content parts, a video part
                first) and rl.jsonl (conversational prompt-only: `prompt`, plus `solution` and `problem_type` for
                the reward functions).
"""
from __future__ import annotations

import io
import json
import os

import pyarrow as pa
import pyarrow.parquet as pq

from jobs.instruction import PROMPT_VERSION, prompt_text, response, solution
from jobs.export.rows import ExportRows

DATASET_NAME = "videokr"


def _jsonl(records: list[dict]) -> bytes:
    return "".join(json.dumps(r, ensure_ascii=False, separators=(",", ":")) + "\n" for r in records).encode()


def _json(obj) -> bytes:
    return (json.dumps(obj, ensure_ascii=False, indent=2) + "\n").encode()


def _path(e: dict, opts: dict) -> str:
    root = opts.get("video_root")
    return os.path.relpath(e["video_path"], root) if root else e["video_path"]


def _prompt(e: dict) -> str:
    return prompt_text(e["question"], e["problem_type"], e["options"])


def videokr(rows: ExportRows, opts: dict) -> dict[str, bytes]:
    def rec(e: dict, with_think: bool) -> dict:
        r = {"problem_id": e["problem_id"], "problem_type": e["problem_type"], "question": e["question"],
             "options": e["options"], "solution": solution(e["answer"])}
        if with_think:
            r["think"] = e["think"]
        return r | {"video_path": _path(e, opts)}
    return {"sft.jsonl": _jsonl([rec(e, True) for e in rows.by_split("sft")]),
            "rl.jsonl": _jsonl([rec(e, False) for e in rows.by_split("rl")])}


def llamafactory(rows: ExportRows, opts: dict) -> dict[str, bytes]:
    data = [{"messages": [{"role": "user", "content": "<video>" + _prompt(e)},
                          {"role": "assistant", "content": response(e["think"], e["answer"])}],
             "videos": [_path(e, opts)]} for e in rows.by_split("sft")]
    info = {f"{DATASET_NAME}_sft": {
        "file_name": "sft.json", "formatting": "sharegpt",
        "columns": {"messages": "messages", "videos": "videos"},
        "tags": {"role_tag": "role", "content_tag": "content", "user_tag": "user", "assistant_tag": "assistant"}}}
    return {"sft.json": _json(data), "dataset_info.json": _json(info)}


_VERL_SCHEMA = pa.schema([
    ("data_source", pa.string()),
    ("prompt", pa.list_(pa.struct([("role", pa.string()), ("content", pa.string())]))),
    ("videos", pa.list_(pa.struct([("video", pa.string()), ("fps", pa.float64()), ("max_frames", pa.int64())]))),
    ("ability", pa.string()),
    ("reward_model", pa.struct([("style", pa.string()), ("ground_truth", pa.string())])),
    ("extra_info", pa.struct([("split", pa.string()), ("index", pa.int64()), ("problem_id", pa.string()),
                              ("problem_type", pa.string()), ("question", pa.string()), ("answer", pa.string()),
                              ("video_id", pa.string()), ("subject_id", pa.string()),
                              ("prompt_version", pa.string())])),
])


def _parquet(table: pa.Table) -> bytes:
    """Deterministic parquet: fixed schema, one row group, fixed compression, no timestamps in metadata."""
    buf = io.BytesIO()
    pq.write_table(table, buf, compression="zstd", compression_level=3, use_dictionary=False,
                   write_statistics=True, version="2.6", data_page_version="1.0",
                   row_group_size=max(1, table.num_rows))
    return buf.getvalue()


def verl(rows: ExportRows, opts: dict) -> dict[str, bytes]:
    fps, max_frames = float(opts.get("fps", 2.0)), int(opts.get("max_frames", 128))
    recs = [{"data_source": DATASET_NAME,
             "prompt": [{"role": "user", "content": "<video>" + _prompt(e)}],
             "videos": [{"video": _path(e, opts), "fps": fps, "max_frames": max_frames}],
             "ability": e["skill"],
             "reward_model": {"style": "rule", "ground_truth": e["answer"]},
             "extra_info": {"split": "train", "index": i, "problem_id": e["problem_id"],
                            "problem_type": e["problem_type"], "question": e["question"], "answer": e["answer"],
                            "video_id": e["video_id"], "subject_id": e["subject_id"],
                            "prompt_version": PROMPT_VERSION}}
            for i, e in enumerate(rows.by_split("rl"))]
    return {"rl.parquet": _parquet(pa.Table.from_pylist(recs, schema=_VERL_SCHEMA))}


def _user(e: dict, opts: dict) -> dict:
    return {"role": "user", "content": [{"type": "video", "video": _path(e, opts)},
                                        {"type": "text", "text": _prompt(e)}]}


def trl(rows: ExportRows, opts: dict) -> dict[str, bytes]:
    sft = [{"messages": [_user(e, opts),
                         {"role": "assistant", "content": [{"type": "text", "text": response(e["think"], e["answer"])}]}],
            "problem_id": e["problem_id"], "video_path": _path(e, opts)} for e in rows.by_split("sft")]
    rl = [{"prompt": [_user(e, opts)], "solution": solution(e["answer"]), "problem_type": e["problem_type"],
           "problem_id": e["problem_id"], "video_path": _path(e, opts)} for e in rows.by_split("rl")]
    return {"sft.jsonl": _jsonl(sft), "rl.jsonl": _jsonl(rl)}


WRITERS = {"videokr": videokr, "llamafactory": llamafactory, "verl": verl, "trl": trl}


def count_rows(name: str, data: bytes) -> int | None:
    """Rows in an exported file (None for side files such as dataset_info.json)."""
    if name.endswith(".jsonl"):
        return data.count(b"\n")
    if name.endswith(".parquet"):
        return pq.ParquetFile(io.BytesIO(data)).metadata.num_rows
    if name == "dataset_info.json":
        return None
    return len(json.loads(data))
