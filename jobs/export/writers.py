"""The four export formats, as the releases write them. Each maps ExportRows -> {file name: write(f) -> rows}.

Every file is written incrementally to an open binary file, one batch of rows at a time, so memory is bounded by the
batch size, not by the export (STREAMS; `export` streams into the folder). `videokr(rows, opts)` & co. give the same
bytes in memory for small callers and tests. Video paths come from jobs.export.media (`videos` option: relative
`videos/<id>.mp4` by default). Every format holds both splits (a file per split), so a scoped export holds all of
its scope's examples in each format, even when a small scope's videos all fell on one side of the split. The rows
are the release's (REFERENCE.md), field for field:

- videokr:      sft.jsonl, rl.jsonl as Video-R1 / VideoKR rows: problem_id, problem, data_type "video",
                problem_type, options (["A. ..."]), process ("<think>...</think>", SFT only), solution
                ("<answer>X</answer>"), path, data_source; plus frame_budget and frame_timestamps (the instants the
                pipeline's checks saw; train/data decodes exactly these).
- llamafactory: sft.json, rl.json in ShareGPT form (`messages`, the user turn starting with `<video>`, + `videos`),
                dataset_info.json registering them (videokr_sft, videokr_rl), train_sft.yaml (the release's SFT
                recipe, on videokr_sft) and its ds_z3_config.json.
- verl:         rl.parquet, sft.parquet: data_source "videokr", prompt (user turn "<video>\n..."), videos ([{video,
                fps 2.0, max_frames 128, min_frames 4, max_pixels = min_pixels = 100352}]), ability "video_qa",
                reward_model {style "rule", ground_truth "<answer>X</answer>"}, extra_info {problem_id, problem_type,
                answer, solution, source_path, split, index}; row groups of ROW_GROUP_ROWS rows. The paper's RL
                stage reads rl.parquet; Zero-RL may read both. The reward entry point: train/verl_reward.py.
- trl:          sft.jsonl (conversational language modeling: `messages` with typed content parts, a video part
                first) and rl.jsonl (conversational prompt-only: `prompt`, plus `solution` and `problem_type` for
                the reward functions); both with frame_budget and frame_timestamps as in the videokr rows.
"""
from __future__ import annotations

import io
import json
from collections.abc import Callable, Iterable, Iterator
from typing import BinaryIO

import pyarrow as pa
import pyarrow.parquet as pq

from jobs.export.media import export_path
from jobs.export.recipes import DS_Z3, LLAMAFACTORY_YAML, VERL_VIDEO
from jobs.export.rows import ExportRows
from jobs.prompts.instruction import prompt_text, response, solution

DATASET_NAME = "videokr"
VIDEO_TOKEN = "<video>"
SPLITS = ("sft", "rl")   # every format holds both splits, so a scope's every example is in each format
SIDE_FILES = ("dataset_info.json", "train_sft.yaml", "ds_z3_config.json")   # no rows: registration and recipe
ROW_GROUP_ROWS = 4096   # verl parquet rows per row group (fixed, so the same rows give the same bytes)

Write = Callable[[BinaryIO], "int | None"]   # writes one file; returns its rows (None for side files)


def _jsonl(f: BinaryIO, recs: Iterable[dict]) -> int:
    n = 0
    for r in recs:
        f.write((json.dumps(r, ensure_ascii=False, separators=(",", ":")) + "\n").encode())
        n += 1
    return n


def _json_array(f: BinaryIO, recs: Iterable[dict]) -> int:
    """The bytes of json.dumps(all records, ensure_ascii=False, indent=2) + "\\n", one record at a time: at indent 2
    an element is its own dump indented one level (json escapes newlines in strings: every raw one is indentation)."""
    n = 0
    for r in recs:
        f.write((("[\n  " if n == 0 else ",\n  ")
                 + json.dumps(r, ensure_ascii=False, indent=2).replace("\n", "\n  ")).encode())
        n += 1
    f.write(b"\n]\n" if n else b"[]\n")
    return n


def _json(obj) -> bytes:
    return (json.dumps(obj, ensure_ascii=False, indent=2) + "\n").encode()


def _side(data: bytes) -> Write:
    """A small side file (no rows)."""
    def write(f: BinaryIO) -> None:
        f.write(data)
    return write


def _map(rows: ExportRows, split: str, rec: Callable[[dict], dict]) -> Iterator[dict]:
    """The split's output records, built one at a time as they are written."""
    return (rec(e) for e in rows.iter_split(split))


def _path(e: dict, opts: dict) -> str:
    """The example's video as the files give it (jobs.export.media: `videos/<id>.mp4` unless `videos` = absolute)."""
    return export_path(e["video_id"], e["video_path"], opts.get("videos") or "link")


def _frames(e: dict) -> dict:
    """The frame instants of an example's video (empty when the frames stage stored none for the budget)."""
    stamps = e.get("frame_timestamps") or []
    return {"frame_budget": int(e["frame_budget"]), "frame_timestamps": stamps} if stamps else {}


def _prompt(e: dict) -> str:
    return prompt_text(e["question"], e["problem_type"], e["options"])


def process(think: str | None) -> str:
    """The release's `process` field: the rationale inside think tags (the SFT target's first half)."""
    return f"<think>{(think or '').strip()}</think>"


def _video_prompt(e: dict) -> str:
    """The user turn of the placeholder formats (LLaMA-Factory, verl): `<video>` on its own line, then the text."""
    return VIDEO_TOKEN + "\n" + _prompt(e)


def videokr_files(rows: ExportRows, opts: dict) -> dict[str, Write]:
    def rec(e: dict, sft: bool) -> dict:
        r = {"problem_id": e["problem_id"], "problem": e["question"], "data_type": "video",
             "problem_type": e["problem_type"], "options": e["options"]}
        if sft:
            r["process"] = process(e["think"])
        return r | {"solution": solution(e["answer"]), "path": _path(e, opts), "data_source": DATASET_NAME} \
            | _frames(e)
    return {"sft.jsonl": lambda f: _jsonl(f, _map(rows, "sft", lambda e: rec(e, True))),
            "rl.jsonl": lambda f: _jsonl(f, _map(rows, "rl", lambda e: rec(e, False)))}


def llamafactory_files(rows: ExportRows, opts: dict) -> dict[str, Write]:
    def rec(e: dict) -> dict:
        return {"messages": [{"role": "user", "content": _video_prompt(e)},
                             {"role": "assistant", "content": response(e["think"], e["answer"])}],
                "videos": [_path(e, opts)]}
    info = {f"{DATASET_NAME}_{split}": {
        "file_name": f"{split}.json", "formatting": "sharegpt",
        "columns": {"messages": "messages", "videos": "videos"},
        "tags": {"role_tag": "role", "content_tag": "content", "user_tag": "user", "assistant_tag": "assistant"}}
        for split in SPLITS if rows.count(split)}   # LLaMA-Factory cannot load an empty file: only non-empty ones
    return {"sft.json": lambda f: _json_array(f, _map(rows, "sft", rec)),
            "rl.json": lambda f: _json_array(f, _map(rows, "rl", rec)), "dataset_info.json": _side(_json(info)),
            "train_sft.yaml": _side(LLAMAFACTORY_YAML.encode()), "ds_z3_config.json": _side(_json(DS_Z3))}


_VERL_SCHEMA = pa.schema([
    ("data_source", pa.string()),
    ("prompt", pa.list_(pa.struct([("role", pa.string()), ("content", pa.string())]))),
    ("videos", pa.list_(pa.struct([("video", pa.string()), ("fps", pa.float64()), ("max_frames", pa.int64()),
                                   ("min_frames", pa.int64()), ("max_pixels", pa.int64()),
                                   ("min_pixels", pa.int64())]))),
    ("ability", pa.string()),
    ("reward_model", pa.struct([("style", pa.string()), ("ground_truth", pa.string())])),
    ("extra_info", pa.struct([("problem_id", pa.string()), ("problem_type", pa.string()), ("answer", pa.string()),
                              ("solution", pa.string()), ("source_path", pa.string()), ("split", pa.string()),
                              ("index", pa.int64())])),
])

# Deterministic parquet: fixed schema, fixed compression, no timestamps in metadata.
_PARQUET_OPTS = {"compression": "zstd", "compression_level": 3, "use_dictionary": False, "write_statistics": True,
                 "version": "2.6", "data_page_version": "1.0"}


def _parquet(f: BinaryIO, tables: Iterable[pa.Table]) -> int:
    """Row groups of exactly ROW_GROUP_ROWS rows (the last one shorter), each written from one contiguous chunk, so
    the bytes depend on the rows only, not on how the reads were batched; a split within one group gives the bytes
    of pq.write_table(all rows) as one group."""
    size, n, held = ROW_GROUP_ROWS, 0, []
    with pq.ParquetWriter(f, _VERL_SCHEMA, **_PARQUET_OPTS) as w:
        for t in tables:
            held.append(t)
            while sum(x.num_rows for x in held) >= size:
                whole = pa.concat_tables(held).combine_chunks()
                w.write_table(whole.slice(0, size), row_group_size=size)
                held, n = [whole.slice(size)], n + size
        rest = pa.concat_tables(held).combine_chunks() if held else pa.Table.from_pylist([], schema=_VERL_SCHEMA)
        if rest.num_rows or not n:   # the last, shorter group; an empty split still gets its one empty group
            w.write_table(rest, row_group_size=max(1, rest.num_rows))
            n += rest.num_rows
    return n


def verl_files(rows: ExportRows, opts: dict) -> dict[str, Write]:
    video = VERL_VIDEO | {"fps": float(opts.get("fps") or VERL_VIDEO["fps"]),
                          "max_frames": int(opts.get("max_frames") or VERL_VIDEO["max_frames"])}

    def rec(split: str, i: int, e: dict) -> dict:
        path, truth = _path(e, opts), solution(e["answer"])
        return {"data_source": DATASET_NAME,
                "prompt": [{"role": "user", "content": _video_prompt(e)}],
                "videos": [{"video": path} | video],
                "ability": "video_qa",
                "reward_model": {"style": "rule", "ground_truth": truth},
                "extra_info": {"problem_id": e["problem_id"], "problem_type": e["problem_type"],
                               "answer": e["answer"].strip(), "solution": truth, "source_path": path,
                               "split": split, "index": i}}

    def tables(split: str) -> Iterator[pa.Table]:
        i = 0
        for batch in rows.batches(split):
            yield pa.Table.from_pylist([rec(split, i + k, e) for k, e in enumerate(batch)], schema=_VERL_SCHEMA)
            i += len(batch)
    return {"rl.parquet": lambda f: _parquet(f, tables("rl")), "sft.parquet": lambda f: _parquet(f, tables("sft"))}


def _user(e: dict, opts: dict) -> dict:
    return {"role": "user", "content": [{"type": "video", "video": _path(e, opts)},
                                        {"type": "text", "text": _prompt(e)}]}


def trl_files(rows: ExportRows, opts: dict) -> dict[str, Write]:
    def sft(e: dict) -> dict:
        return {"messages": [_user(e, opts), {"role": "assistant",
                                              "content": [{"type": "text", "text": response(e["think"], e["answer"])}]}],
                "problem_id": e["problem_id"], "video_path": _path(e, opts)} | _frames(e)

    def rl(e: dict) -> dict:
        return {"prompt": [_user(e, opts)], "solution": solution(e["answer"]), "problem_type": e["problem_type"],
                "problem_id": e["problem_id"], "video_path": _path(e, opts)} | _frames(e)
    return {"sft.jsonl": lambda f: _jsonl(f, _map(rows, "sft", sft)),
            "rl.jsonl": lambda f: _jsonl(f, _map(rows, "rl", rl))}


STREAMS: dict[str, Callable[[ExportRows, dict], dict[str, Write]]] = {
    "videokr": videokr_files, "llamafactory": llamafactory_files, "verl": verl_files, "trl": trl_files}


def in_memory(fmt: str, rows: ExportRows, opts: dict) -> dict[str, bytes]:
    """A format's files as bytes (small exports and tests; `export` streams them to disk instead)."""
    out = {}
    for name, write in STREAMS[fmt](rows, opts).items():
        buf = io.BytesIO()
        write(buf)
        out[name] = buf.getvalue()
    return out


def videokr(rows: ExportRows, opts: dict) -> dict[str, bytes]:
    return in_memory("videokr", rows, opts)


def llamafactory(rows: ExportRows, opts: dict) -> dict[str, bytes]:
    return in_memory("llamafactory", rows, opts)


def verl(rows: ExportRows, opts: dict) -> dict[str, bytes]:
    return in_memory("verl", rows, opts)


def trl(rows: ExportRows, opts: dict) -> dict[str, bytes]:
    return in_memory("trl", rows, opts)


WRITERS = {"videokr": videokr, "llamafactory": llamafactory, "verl": verl, "trl": trl}


def count_rows(name: str, data: bytes) -> int | None:
    """Rows in an exported file (None for side files such as dataset_info.json)."""
    if name.endswith(".jsonl"):
        return data.count(b"\n")
    if name.endswith(".parquet"):
        return pq.ParquetFile(io.BytesIO(data)).metadata.num_rows
    if name in SIDE_FILES:
        return None
    return len(json.loads(data))
