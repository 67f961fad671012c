"""Shared pieces of the training entrypoints: model loading, batch arithmetic, export manifests, run summaries."""
from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import torch

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
    save_steps: int = 500
    save_total_limit: int | None = 2
    deepspeed: str | None = None
    bf16: bool | None = None
    gradient_checkpointing: bool = False
    resume: bool = False
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


def file_sha256(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


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


def last_checkpoint(out_dir: str | Path) -> str | None:
    from transformers.trainer_utils import get_last_checkpoint
    return get_last_checkpoint(str(out_dir)) if Path(out_dir).is_dir() else None


def distributed_info(trainer) -> dict:
    """How the trainer actually ran: processes and the DeepSpeed ZeRO stage (None without DeepSpeed)."""
    plugin = getattr(trainer.accelerator.state, "deepspeed_plugin", None)
    return {"world_size": trainer.args.world_size, "zero_stage": plugin.zero_stage if plugin else None}


def train_and_save(trainer, p: TrainParams, kind: str, started: float) -> dict:
    """Train (from the last checkpoint when p.resume), save model and processor to p.out; the run summary's common
    part (the caller adds its own keys and writes it)."""
    resume = last_checkpoint(p.out) if p.resume else None
    result = trainer.train(resume_from_checkpoint=resume)
    trainer.save_model(p.out)
    trainer.processing_class.save_pretrained(p.out)
    history = trainer.state.log_history
    manifest = export_manifest(p.data)
    return {"kind": kind, "params": asdict(p), "resumed_from": resume, "global_step": trainer.state.global_step,
            "train_loss": result.training_loss, "losses": [h["loss"] for h in history if "loss" in h],
            "output_dir": p.out, "seconds": round(time.time() - started, 2), "manifest": manifest,
            "snapshot_id": manifest.get("snapshot_id"), "examples": len(trainer.train_dataset),
            **distributed_info(trainer)}


def write_summary(out_dir: str | Path, summary: dict) -> Path:
    path = Path(out_dir) / "videokr_run.json"
    path.write_text(json.dumps(summary, indent=2, sort_keys=True, default=str))
    return path
