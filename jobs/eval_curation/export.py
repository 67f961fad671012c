"""Export of the curated evaluation set: a VideoKR JSONL that train/eval_sets.py reads (format `videokr`), one
folder per warehouse version of `eval_items`:

    <out>/evalset-snap<N>/evalset.jsonl     problem_id, problem_type, question, options, solution, video_path,
                                            subject_id, source_benchmark, origin
    <out>/evalset-snap<N>/manifest.json     snapshot_id (train/evaluate.py records it in eval_results), counts

Rows carry `source_benchmark`, so train/eval_sets.py names each item's dataset `evalset/<source_benchmark>` and the
evaluation reports per source benchmark. The same version is written once: a rebuild that changed nothing finds
its folder complete and leaves it alone.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

FILE = "evalset.jsonl"


def rows(items: list[dict]) -> list[dict]:
    return [{"problem_id": r["item_id"], "problem_type": r["problem_type"], "question": r["question"],
             "options": list(r["options"] or []), "solution": f"<answer>{r['answer']}</answer>",
             "video_path": r["video_path"], "subject_id": r["subject"] or "",
             "source_benchmark": r["source_benchmark"], "origin": r["origin"]} for r in items]


def _write(path: Path, text: str) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def export(items: list[dict], snapshot_id: int, out_dir: Path, run_id: str) -> dict:
    """Write version `snapshot_id` of the eval set under `out_dir` unless it is there already; returns its manifest."""
    folder = Path(out_dir) / f"evalset-snap{snapshot_id}"
    data, manifest_path = folder / FILE, folder / "manifest.json"
    text = "".join(json.dumps(r, ensure_ascii=False, sort_keys=True) + "\n" for r in rows(items))
    counts: dict[str, dict[str, int]] = {}
    for r in items:
        c = counts.setdefault(r["source_benchmark"], {"kept": 0, "reannotated": 0})
        c[r["origin"]] += 1
    if manifest_path.is_file() and data.is_file() and data.read_text() == text:
        return json.loads(manifest_path.read_text()) | {"path": str(data), "written": False}
    folder.mkdir(parents=True, exist_ok=True)
    _write(data, text)          # the manifest last: a folder with a manifest is complete
    manifest = {"format": "videokr", "name": "evalset", "snapshot_id": snapshot_id, "items": len(items),
                "per_benchmark": counts, "run_id": run_id, "file": FILE}
    _write(manifest_path, json.dumps(manifest, indent=2, sort_keys=True))
    return manifest | {"path": str(data), "written": True}
