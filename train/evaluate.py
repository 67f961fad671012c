"""Evaluate a video-language checkpoint on eval sets at several frame budgets; accuracy into `eval_results`.

    python -m train.evaluate --model runs/grpo --data exports/<v>/videokr/rl.jsonl --frames 16 32 64 128 \
        --out runs/eval [--format mmvu --video-root /data/mmvu/videos] [--record]
    python -m train.evaluate --batch '[{"model": "runs/sft", "data": [...], ...}, ...]'   # several, one process

Greedy decoding. Multiple choice: rule-based letter extraction from the response (the `<answer>` content first).
Open-ended: a judge callable (question, reference, response) -> score in [0, 1] when given (the `judge` model role),
else the mean ROUGE-1/2/L F1 (stemmed) of the answer against the reference. Results are grouped overall, by question
type and by subject, per dataset and frame budget; items whose video is missing or undecodable count as `failed`
(and are quarantined when recording), the run goes on.

With `--record`, each (eval file, frame budget) unit is committed on its own, with its quarantine rows and a
fingerprint (the model's files, the file's content, the scoring options): a killed evaluation resumes after its last
committed unit, and a rerun whose inputs did not change loads no model and generates nothing.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import logging
import re
import time
from collections import defaultdict
from pathlib import Path
from typing import Callable

import torch

from train.common import export_manifest, file_sha256, load_model_and_processor
from warehouse.runs import fingerprint
from train.data import VideoDecodeError, example_stamps, frames_for, prompt_messages, video_inputs
from train.eval_sets import EvalItem, load_eval_set
from train.rewards import extract_answer, format_reward, rouge_f1
from train.stage import model_identity  # noqa: F401  (re-exported; the stage task computes it without torch)

log = logging.getLogger("videokr.eval")
FRAME_BUDGETS = (16, 32, 64, 128)
Judge = Callable[[str, str, str], float]


def extract_letter(response: str, n_options: int) -> str | None:
    """The chosen option letter: from `<answer>` if present, else common phrasings, else a lone letter."""
    valid = "ABCDEFGHIJ"[:max(1, n_options)]
    text = extract_answer(response)
    text = response if text is None else text
    patterns = [rf"^\s*\(?([{valid}])\)?(?:[.):\s]|$)",                    # "B", "(B)", "B.", "B) ..."
                rf"answer\s*(?:is|:)?\s*\(?([{valid}])\)?\b",               # "the answer is B"
                rf"\boption\s*\(?([{valid}])\)?\b",
                rf"(?<![A-Za-z])([{valid}])(?![A-Za-z])"]                   # a lone capital letter
    for pat in patterns:
        m = re.search(pat, text, flags=re.IGNORECASE if "answer" in pat or "option" in pat else 0)
        if m:
            return m.group(1).upper()
    return None


def score(item: EvalItem, response: str, judge: Judge | None = None) -> float:
    if item.problem_type == "multiple choice":
        return 1.0 if extract_letter(response, len(item.options)) == item.answer.strip().upper() else 0.0
    answer = extract_answer(response)
    answer = response.strip() if answer is None else answer
    if judge is not None:
        return min(1.0, max(0.0, float(judge(item.question, item.answer, response))))
    return rouge_f1(answer, item.answer)


@torch.no_grad()
def generate(model, processor, items: list[EvalItem], n_frames: int, max_new_tokens: int,
             max_video_tokens: int) -> list[str | None]:
    """Greedy responses for a batch; None for an item whose video fails to decode."""
    texts, frames, keep = [], [], []
    for i, it in enumerate(items):
        try:
            frames.append(frames_for(processor, it.video_path, n_frames, max_video_tokens,
                                     example_stamps(it.example(), n_frames)))
        except VideoDecodeError as exc:
            log.error("eval: %s: %s", it.item_id, exc)
            continue
        texts.append(processor.apply_chat_template(prompt_messages(it.example()), add_generation_prompt=True,
                                                   tokenize=False))
        keep.append(i)
    out: list[str | None] = [None] * len(items)
    if not keep:
        return out
    processor.tokenizer.padding_side = "left"
    enc = video_inputs(processor, texts, frames).to(model.device)
    seqs = model.generate(**enc, do_sample=False, max_new_tokens=max_new_tokens)
    decoded = processor.batch_decode(seqs[:, enc["input_ids"].size(1):], skip_special_tokens=True)
    for i, text in zip(keep, decoded):
        out[i] = text.strip()
    return out


def aggregate(scored: list[dict]) -> list[dict]:
    """Rows per (dataset, frames, group_by, group_value): n, accuracy, format_rate, failed."""
    groups: dict[tuple, list[dict]] = defaultdict(list)
    for s in scored:
        for by, value in (("overall", ""), ("question_type", s["problem_type"]), ("subject", s["subject"] or "")):
            groups[(s["dataset"], s["frames"], by, value)].append(s)
    rows = []
    for (dataset, frames, by, value), items in sorted(groups.items()):
        ok = [s for s in items if s["score"] is not None]
        rows.append({"dataset": dataset, "frames": frames, "group_by": by, "group_value": value, "n": len(ok),
                     "accuracy": sum(s["score"] for s in ok) / len(ok) if ok else None,
                     "format_rate": sum(s["format"] for s in ok) / len(ok) if ok else None,
                     "failed": len(items) - len(ok)})
    return rows


class Recorder:
    """Commits each (eval file, frame budget) unit's rows, quarantine rows and fingerprint in one chunk."""

    def __init__(self, run, fp: str):
        self.run, self.fp = run, fp

    def committed(self, units: list[str]) -> set[str]:
        return {u for u, f in self.run.fingerprints(units).items() if f == self.fp}

    def commit(self, unit: str, result: dict, scored: list[dict]) -> None:
        with self.run.chunk():
            rows = _result_rows(result | {"rows": aggregate(scored), "items": scored})
            for s in scored:
                if s["response"] is None:
                    self.run.quarantine(item=s["video_path"], reason="eval_video_unreadable", detail=s["item_id"])
            self.run.write("eval_results", rows)
            self.run.mark_done({unit: (self.fp, None)})


def evaluate(model_path: str, data: list[str], frames: tuple[int, ...] = FRAME_BUDGETS, out: str | None = None,
             fmt: str = "auto", video_root: str | None = None, judge: Judge | None = None,
             max_new_tokens: int = 512, max_video_tokens: int = 4096, batch_size: int = 4, limit: int | None = None,
             checkpoint: str | None = None, model=None, processor=None, recorder: Recorder | None = None) -> dict:
    """Score `model_path` on each eval file at each frame budget; returns {"rows", "items", "eval_id", ...}.
    With a `recorder`, units it committed before are skipped (the model is loaded only if a unit is left)."""
    checkpoint = checkpoint or str(Path(model_path).resolve())
    meta = []
    for path in data:
        manifest = export_manifest(path) if Path(path).suffix == ".jsonl" else {}
        meta.append({"path": str(path), "sha256": file_sha256(path), "snapshot_id": manifest.get("snapshot_id")})
    key = json.dumps([str(Path(model_path).resolve()), checkpoint, [m["sha256"] for m in meta]])
    eval_id = hashlib.sha256(key.encode()).hexdigest()[:16]
    result = {"eval_id": eval_id, "model": model_path, "checkpoint": checkpoint, "data": meta,
              "scorer": "rule+judge" if judge else "rule+rouge"}
    units = {(m["path"], n): f"{eval_id}/{m['sha256'][:16]}/{n}" for m in meta for n in frames}
    done = recorder.committed(list(units.values())) if recorder else set()
    scored, skipped = [], 0
    for m in meta:
        items = None
        for n in frames:
            if units[(m["path"], n)] in done:
                skipped += 1
                continue
            if model is None or processor is None:
                model, processor = load_model_and_processor(model_path)
                if torch.cuda.is_available():
                    model.to("cuda")
            model.eval()
            items = items if items is not None else load_eval_set(m["path"], fmt, video_root)[:limit]
            started, unit = time.time(), []
            for b in range(0, len(items), batch_size):
                batch = items[b:b + batch_size]
                for it, resp in zip(batch, generate(model, processor, batch, n, max_new_tokens, max_video_tokens)):
                    unit.append({"item_id": it.item_id, "dataset": it.dataset, "frames": n,
                                 "problem_type": it.problem_type, "subject": it.subject, "answer": it.answer,
                                 "response": resp, "video_path": it.video_path,
                                 "score": None if resp is None else score(it, resp, judge),
                                 "format": None if resp is None else format_reward(resp),
                                 "snapshot_id": m["snapshot_id"]})
                ok = [u["score"] for u in unit if u["score"] is not None]
                print(f"[eval] {Path(m['path']).name} frames {n} batch {b // batch_size + 1}/"
                      f"{-(-len(items) // batch_size)} items {len(unit)}/{len(items)} accuracy "
                      f"{sum(ok) / len(ok) if ok else float('nan'):.4f}", flush=True)   # one line per step
            log.info("eval %s frames=%d: %d items in %.1fs", m["path"], n, len(items), time.time() - started)
            if recorder:
                recorder.commit(units[(m["path"], n)], result, unit)
            scored += unit
    if skipped:
        log.info("eval %s: %d of %d units unchanged since committed (skipped)", eval_id, skipped, len(units))
    result |= {"rows": aggregate(scored), "items": scored, "skipped_units": skipped}
    if out:
        Path(out).mkdir(parents=True, exist_ok=True)
        (Path(out) / "predictions.jsonl").write_text("".join(json.dumps(s) + "\n" for s in scored))
        (Path(out) / "eval_summary.json").write_text(json.dumps({k: v for k, v in result.items() if k != "items"},
                                                                indent=2))
    return result


def _result_rows(result: dict) -> list[dict]:
    by_dataset = {s["dataset"]: s["snapshot_id"] for s in result["items"]}
    return [{"eval_id": result["eval_id"], "model": result["model"], "checkpoint": result["checkpoint"],
             "scorer": result["scorer"], "snapshot_id": by_dataset.get(r["dataset"]), **r} for r in result["rows"]]


def record(result: dict, wh=None, settings=None) -> dict:
    """Write `result` into eval_results (merge by key: a rerun of the same eval changes nothing)."""
    from warehouse import Warehouse, stage_run
    wh = wh or Warehouse(settings)
    with stage_run(wh, "evaluate", params={"model": result["model"],
                                           "data": [m["path"] for m in result["data"]]}) as run:
        for s in result["items"]:
            if s["response"] is None:
                run.quarantine(item=s["video_path"], reason="eval_video_unreadable", detail=s["item_id"])
        counts = run.write("eval_results", _result_rows(result))
    return {"run_id": run.run_id, "rows": counts}


def main(argv: list[str] | None = None) -> dict:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    ap = argparse.ArgumentParser(prog="python -m train.evaluate", description=__doc__.split("\n")[0])
    ap.add_argument("--model")
    ap.add_argument("--checkpoint")
    ap.add_argument("--data", nargs="+")
    ap.add_argument("--batch", help="JSON list of option dicts ({\"model\": ..., \"data\": [...], ...}), each "
                                    "evaluated in turn in this process (imports paid once); returns their results")
    ap.add_argument("--format", default="auto", choices=["auto", "videokr", "mmvu", "videommmu"])
    ap.add_argument("--video-root")
    ap.add_argument("--frames", type=int, nargs="+", default=list(FRAME_BUDGETS))
    ap.add_argument("--max-new-tokens", type=int, default=512)
    ap.add_argument("--max-video-tokens", type=int, default=4096)
    ap.add_argument("--batch-size", type=int, default=4)
    ap.add_argument("--limit", type=int)
    ap.add_argument("--out")
    ap.add_argument("--record", action="store_true", help="write eval_results to the warehouse (VIDEOKR_HOME)")
    a = ap.parse_args(argv)
    if a.batch:
        return _batch(json.loads(a.batch))
    if not a.model or not a.data:
        ap.error("--model and --data are required (or --batch)")
    args = (a.model, a.data, tuple(a.frames), a.out, a.format, a.video_root, None, a.max_new_tokens,
            a.max_video_tokens, a.batch_size, a.limit, a.checkpoint)
    if not a.record:
        result = evaluate(*args)
    else:
        from warehouse import Warehouse, stage_run
        fp = fingerprint(model_identity(a.model), "rule+rouge", a.format, a.video_root, a.max_new_tokens,
                         a.max_video_tokens, a.limit)
        with Warehouse() as wh, stage_run(wh, "evaluate", params={"model": a.model, "data": a.data}) as run:
            result = evaluate(*args, recorder=Recorder(run, fp))
            result["recorded"] = {"run_id": run.run_id, "rows": dict(run.rows)}
    print(json.dumps([r for r in result["rows"] if r["group_by"] == "overall"]))
    return result


def _batch(jobs: list[dict]) -> list[dict]:
    """Each job as its own `main` (its own fingerprint, `runs` row and units), models freed in between."""
    import gc

    from train.launchers import cli_args
    results = []
    for i, job in enumerate(jobs, 1):
        print(f"[eval] model {i}/{len(jobs)}: {job.get('model')}", flush=True)
        results.append(main(cli_args(job)))
        gc.collect()
        if torch.cuda.is_available():
            torch.cuda.empty_cache()
    return results


if __name__ == "__main__":
    main()
