"""Evaluation items from VideoKR exports and from benchmark files (MMVU validation.json, VideoMMMU *_video.json).

    items = load_eval_set(path, fmt="auto", video_root=None)   # -> list[EvalItem]

- videokr: the JSONL export (problem_id, problem_type, question, options, solution, video_path[, subject_id]).
  Rows with `source_benchmark` (the curated eval set, jobs/eval_curation/export.py) are named `<name>/<benchmark>`,
  so results come per source benchmark.
- mmvu: a JSON list of {id, video (URL .../videos/<Subject>/<n>.mp4), question_type ("multiple-choice" |
  "open-ended"), question, choices {"A": ...}, answer (letter, or text for open-ended), metadata.subject}.
  The video is looked up as <video_root>/<Subject>/<n>.mp4.
- videommmu: {"<Track>": {"0": {id ("dev_<Subject>_<n>"), question, options [texts], answer (letter)}, ...}}.
  The video is <video_root>/<id>.mp4.
Benchmark videos are not shipped; an item whose video is missing is still loaded and fails at scoring time.
"""
from __future__ import annotations

import json
import re
import string
from dataclasses import dataclass
from pathlib import Path

from train.data import Example, example_from_row, extract_answer_text

LETTERS = string.ascii_uppercase


@dataclass
class EvalItem:
    item_id: str
    dataset: str
    problem_type: str          # "multiple choice" | "open-ended"
    question: str
    options: list[str]         # ["A. ...", ...]; [] for open-ended
    answer: str                # the letter for multiple choice, the reference text for open-ended
    subject: str
    video_path: str

    def example(self) -> Example:
        return Example(self.item_id, self.problem_type, self.question, self.options, f"<answer>{self.answer}</answer>",
                       self.video_path)


def detect_format(path: Path) -> str:
    if path.suffix == ".jsonl":
        return "videokr"
    data = json.loads(path.read_text())
    if isinstance(data, list):
        return "mmvu"
    if isinstance(data, dict) and all(isinstance(v, dict) for v in data.values()):
        return "videommmu"
    raise ValueError(f"{path}: unknown eval file shape")


def load_eval_set(path: str | Path, fmt: str = "auto", video_root: str | Path | None = None,
                  dataset: str | None = None) -> list[EvalItem]:
    path = Path(path)
    fmt = detect_format(path) if fmt == "auto" else fmt
    root = Path(video_root) if video_root else path.parent
    name = dataset or (path.stem if fmt == "videokr" else fmt)
    loader = {"videokr": _videokr, "mmvu": _mmvu, "videommmu": _videommmu}.get(fmt)
    if loader is None:
        raise ValueError(f"unknown eval format {fmt!r} (videokr | mmvu | videommmu)")
    return loader(path, root, name)


def _videokr(path: Path, root: Path, name: str) -> list[EvalItem]:
    out = []
    for line in path.read_text().splitlines():
        if not line.strip():
            continue
        row = json.loads(line)
        ex = example_from_row(row, base=path.parent)
        source = row.get("source_benchmark")      # the curated eval set (`videokr evalset build`): per benchmark
        out.append(EvalItem(ex.problem_id, f"{name}/{source}" if source else name, ex.problem_type, ex.question,
                            ex.options,
                            extract_answer_text(ex.solution), str(row.get("subject_id") or ""), ex.video_path))
    return out


def _mmvu(path: Path, root: Path, name: str) -> list[EvalItem]:
    out = []
    for row in json.loads(path.read_text()):
        subject = (row.get("metadata") or {}).get("subject", "")
        m = re.search(r"videos/(.+\.mp4)$", row.get("video") or "")
        video = root / (m.group(1) if m else f"{row['id']}.mp4")
        if row["question_type"] == "multiple-choice":
            options = [f"{k}. {v}" for k, v in sorted((row.get("choices") or {}).items()) if str(v).strip()]
            ptype = "multiple choice"
        else:
            options, ptype = [], "open-ended"
        out.append(EvalItem(str(row["id"]), name, ptype, row["question"], options, str(row["answer"]).strip(),
                            subject, str(video)))
    return out


def _videommmu(path: Path, root: Path, name: str) -> list[EvalItem]:
    out = []
    for track, items in json.loads(path.read_text()).items():
        for row in items.values():
            m = re.match(r"[^_]+_(.+)_\d+$", row["id"])
            subject = m.group(1) if m else ""
            options = [f"{LETTERS[i]}. {o}" for i, o in enumerate(row.get("options") or [])]
            ptype = "multiple choice" if options else "open-ended"
            out.append(EvalItem(row["id"], f"{name}/{track.lower()}", ptype, row["question"], options,
                                str(row["answer"]).strip(), subject, str(root / f"{row['id']}.mp4")))
    return out
