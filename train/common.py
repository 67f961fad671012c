"""Shared pieces of the training entrypoints: model loading, batch arithmetic, export manifests, run summaries."""
from __future__ import annotations

import json
import logging
import math
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import torch

from warehouse.runs import file_sha256  # noqa: F401  (re-exported for train.records / evaluate)

from train.data import MAX_FRAMES, MAX_VIDEO_TOKENS

log = logging.getLogger("videokr.train")
CONFIG_DIR = Path(__file__).parent / "configs"


@dataclass
class TrainParams:
    """Options shared by train.sft and train.grpo; each module's subclass sets its paper defaults and adds its own."""
    model: str
    data: str
    out: str
    frames: int = MAX_FRAMES
    max_video_tokens: int = MAX_VIDEO_TOKENS
    lr: float = 1e-5
    epochs: float = 1.0
    effective_batch: int = 32
    per_device_batch: int = 1
    max_steps: int = -1
    save_steps: int = 500                     # a checkpoint (with its data order) every N optimizer steps
    save_total_limit: int | None = 2
    deepspeed: str | None = None
    bf16: bool | None = None
    gradient_checkpointing: bool = False
    resume: bool = False                      # continue from the last complete checkpoint in `out`, if any
    seed: int = 0
    logging_steps: int = 1


def load_model_and_processor(path: str, bf16: bool | None = None):
    """Any AutoModelForImageTextToText whose processor has a video processor, plus that processor."""
    from transformers import AutoModelForImageTextToText, AutoProcessor
    processor = AutoProcessor.from_pretrained(path)
    if getattr(processor, "video_processor", None) is None:
        raise ValueError(f"{path}: the processor {type(processor).__name__} has no video processor")
    dtype = torch.bfloat16 if (use_bf16(bf16)) else torch.float32
    model = AutoModelForImageTextToText.from_pretrained(path, dtype=dtype)
    return model, processor


def use_bf16(flag: bool | None) -> bool:
    """bf16 on GPU by default, fp32 on CPU."""
    return torch.cuda.is_available() and torch.cuda.is_bf16_supported() if flag is None else bool(flag)


def world_size() -> int:
    return int(os.environ.get("WORLD_SIZE", "1"))


def grad_accum_for(effective_batch: int, per_device: int) -> int:
    """Gradient accumulation so per-device batch x accumulation x world size reaches the effective batch."""
    return max(1, math.ceil(effective_batch / (per_device * world_size())))


def deepspeed_config(name: str | None) -> str | None:
    """`zero2` / `zero3` name a bundled config in train/configs; anything else is a path; None disables."""
    if not name:
        return None
    bundled = CONFIG_DIR / f"{name}.json"
    path = bundled if bundled.is_file() else Path(name)
    if not path.is_file():
        raise FileNotFoundError(f"deepspeed config {name!r}: no file {path}")
    return str(path)


def cpu_deepspeed_state(deepspeed: str | None) -> dict:
    """DeepSpeed on CPUs under torchrun (gloo). TrainingArguments starts DeepSpeed's process group only with a GPU
    backend (one process group of 1 on CPUs), so set accelerate's state up with gloo first and have the trainer reuse
    it. Returns the extra config kwargs; {} on GPUs, without DeepSpeed or in one process."""
    if not deepspeed or torch.cuda.is_available() or world_size() < 2:
        return {}
    from accelerate import PartialState
    os.environ["ACCELERATE_USE_DEEPSPEED"] = "true"
    PartialState(backend="gloo")
    return {"accelerator_config": {"use_configured_state": True}}


def export_manifest(data_path: str | Path) -> dict:
    """The export manifest next to a data file (manifest.json in its folder or a parent), or {}."""
    for folder in [Path(data_path).resolve().parent, *Path(data_path).resolve().parents][:3]:
        path = folder / "manifest.json"
        if path.is_file():
            try:
                manifest = json.loads(path.read_text())
            except json.JSONDecodeError:
                log.warning("unreadable export manifest %s", path)
                return {}
            manifest["_path"] = str(path)
            return manifest
    return {}


RESUME_FILE = "videokr_resume.json"     # written into a checkpoint once it is complete: the data order it needs


def last_checkpoint(out_dir: str | Path) -> str | None:
    """The newest *complete* checkpoint (its resume file written after the trainer saved everything); a folder a
    kill cut short is passed over. Checkpoints from before resume files existed count when their trainer state is
    there."""
    from transformers.trainer_utils import PREFIX_CHECKPOINT_DIR
    root = Path(out_dir)
    if not root.is_dir():
        return None
    done = [c for c in root.glob(f"{PREFIX_CHECKPOINT_DIR}-*") if c.name.rsplit("-", 1)[-1].isdigit()
            and ((c / RESUME_FILE).is_file() or (c / "trainer_state.json").is_file())]
    with_marker = [c for c in done if (c / RESUME_FILE).is_file()]
    pool = with_marker or done
    return str(max(pool, key=lambda c: int(c.name.rsplit("-", 1)[-1]))) if pool else None


def data_order(trainer, data_sha256: str) -> dict:
    """What fixes the order of examples: the data file, the seed and the batch geometry. The trainer's checkpoint
    holds the rest (global step, epoch, RNG states); on resume it regenerates the epoch's permutation from the seed
    and skips the batches already seen, so the order matches only when these are unchanged."""
    a = trainer.args
    return {"data_sha256": data_sha256, "seed": a.seed, "data_seed": a.data_seed, "examples": len(trainer.train_dataset),
            "per_device_batch": a.per_device_train_batch_size, "grad_accum": a.gradient_accumulation_steps,
            "world_size": a.world_size}


def check_resume(checkpoint: str, expected: dict) -> dict:
    """The checkpoint's data order, or ValueError naming what changed (resuming would replay other examples)."""
    path = Path(checkpoint) / RESUME_FILE
    if not path.is_file():
        return {}
    saved = json.loads(path.read_text())
    changed = {k: (saved.get(k), v) for k, v in expected.items() if k in saved and saved[k] != v}
    if changed:
        raise ValueError(f"{checkpoint}: cannot resume, the data order changed since it was saved "
                         f"({', '.join(f'{k}: {a} -> {b}' for k, (a, b) in changed.items())}); "
                         f"use a new --out or delete the checkpoints to start over")
    return saved


def load_checkpoint_weights(model, checkpoint: str) -> None:
    """Put the checkpoint's weights into `model`. The Trainer's own resume (transformers 5.23) loads the saved state
    dict by raw key, but video-language models save legacy keys (`visual.*`, `model.layers.*`) that no longer match
    the module tree (`model.visual.*`, `model.language_model.*`): nothing loads (only a warning), and training would
    go on from the base weights with the checkpoint's optimizer state. from_pretrained applies the key mapping."""
    from transformers import AutoModelForImageTextToText
    dtype = next(model.parameters()).dtype
    loaded = AutoModelForImageTextToText.from_pretrained(checkpoint, dtype=dtype)
    missing, _ = model.load_state_dict(loaded.state_dict(), strict=False)
    if missing:
        raise RuntimeError(f"{checkpoint}: the checkpoint lacks {len(missing)} weights of the model, e.g. {missing[:3]}")
    del loaded


def progress_callbacks(kind: str, order: dict):
    """Trainer callbacks: one stdout line per logging step (the local launcher streams stdout to the Airflow task
    log), and the resume file written into each checkpoint once the trainer has saved it completely."""
    from transformers import TrainerCallback

    class Progress(TrainerCallback):
        def on_log(self, args, state, control, logs=None, **kw):
            if not state.is_world_process_zero or not logs:
                return
            parts = [f"{k} {v:.6g}" if isinstance(v, float) else f"{k} {v}" for k, v in logs.items()
                     if isinstance(v, (int, float)) and k != "epoch"]
            print(f"[{kind}] step {state.global_step}/{state.max_steps} epoch {state.epoch or 0:.3f} "
                  + " ".join(parts), flush=True)

        def on_save(self, args, state, control, **kw):
            if not state.is_world_process_zero:
                return
            folder = Path(args.output_dir) / f"checkpoint-{state.global_step}"
            if folder.is_dir():
                (folder / RESUME_FILE).write_text(json.dumps(order | {"global_step": state.global_step,
                                                                      "epoch": state.epoch}, sort_keys=True))
                print(f"[{kind}] checkpoint {folder.name} saved", flush=True)

    return [Progress()]


def distributed_info(trainer) -> dict:
    """How the trainer actually ran: processes and the DeepSpeed ZeRO stage (None without DeepSpeed)."""
    plugin = getattr(trainer.accelerator.state, "deepspeed_plugin", None)
    return {"world_size": trainer.args.world_size, "zero_stage": plugin.zero_stage if plugin else None}


def train_and_save(trainer, p: TrainParams, kind: str, started: float) -> dict:
    """Train (from the last complete checkpoint when p.resume, after checking the data order is the one it was
    saved with), save model and processor to p.out; the run summary's common part (the caller adds its own keys)."""
    order = data_order(trainer, file_sha256(p.data))
    for cb in progress_callbacks(kind, order):
        trainer.add_callback(cb)
    resume = last_checkpoint(p.out) if p.resume else None
    if resume:
        check_resume(resume, order)
        if not getattr(trainer, "is_deepspeed_enabled", False):   # DeepSpeed restores its own shards
            load_checkpoint_weights(trainer.model, resume)
        print(f"[{kind}] resuming from {resume}", flush=True)
    result = trainer.train(resume_from_checkpoint=resume)
    trainer.save_model(p.out)
    trainer.processing_class.save_pretrained(p.out)
    history = trainer.state.log_history
    manifest = export_manifest(p.data)
    return {"kind": kind, "params": asdict(p), "resumed_from": resume, "global_step": trainer.state.global_step,
            "train_loss": result.training_loss, "losses": [h["loss"] for h in history if "loss" in h],
            "loss_steps": [h["step"] for h in history if "loss" in h],
            "output_dir": p.out, "seconds": round(time.time() - started, 2), "manifest": manifest,
            "snapshot_id": manifest.get("snapshot_id"), "examples": len(trainer.train_dataset),
            "data_order": order, **distributed_info(trainer)}


def write_summary(out_dir: str | Path, summary: dict) -> Path:
    path = Path(out_dir) / "videokr_run.json"
    path.write_text(json.dumps(summary, indent=2, sort_keys=True, default=str))
    return path
