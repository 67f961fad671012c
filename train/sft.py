"""Supervised fine-tuning of a video-language model on the VideoKR SFT export (TRL SFTTrainer).

    python -m train.sft --model BASE_DIR --data exports/<v>/videokr/sft.jsonl --out runs/sft [--deepspeed zero2]

Any AutoModelForImageTextToText with a video processor (Qwen2.5-VL and Qwen3-VL tested). Frames are decoded here
(<= 128, <= 4,096 video tokens); loss on the assistant response only. Paper defaults: 1 epoch, lr 1e-5, effective
batch 32, AdamW, bf16 on GPU. Checkpoints every `save_steps`; `--resume` continues from the last one.
"""
from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from pathlib import Path

import torch

from train.common import (TrainParams, cpu_deepspeed_state, deepspeed_config, grad_accum_for, load_model_and_processor,
                          train_and_save, use_bf16, write_summary)

log = logging.getLogger("videokr.train")


@dataclass
class SFTParams(TrainParams):
    max_length: int | None = None
    warmup: float = 0.03  # <1: fraction of steps, >=1: steps
    lr_scheduler: str = "cosine"
    weight_decay: float = 0.0
    compile_blocks: bool | None = None  # torch.compile each LM layer and vision block (train.fast_compile); None: on GPU


def sft_config(p: SFTParams):
    from trl import SFTConfig
    return SFTConfig(
        **cpu_deepspeed_state(p.deepspeed),
        output_dir=p.out, learning_rate=p.lr, num_train_epochs=p.epochs, max_steps=p.max_steps,
        per_device_train_batch_size=p.per_device_batch,
        gradient_accumulation_steps=grad_accum_for(p.effective_batch, p.per_device_batch),
        optim="adamw_torch", weight_decay=p.weight_decay, warmup_steps=p.warmup,
        lr_scheduler_type=p.lr_scheduler, bf16=use_bf16(p.bf16), deepspeed=deepspeed_config(p.deepspeed),
        gradient_checkpointing=p.gradient_checkpointing, save_strategy="steps", save_steps=p.save_steps,
        save_total_limit=p.save_total_limit, logging_steps=p.logging_steps, seed=p.seed, report_to="none",
        remove_unused_columns=False, dataset_kwargs={"skip_prepare_dataset": True}, max_length=None,
        dataloader_num_workers=0, use_cpu=False)


def build_trainer(p: SFTParams, model=None, processor=None):
    """The SFTTrainer for `p` (model and processor loaded from p.model unless given)."""
    from datasets import Dataset
    from trl import SFTTrainer

    from train.collate import VideoSFTCollator
    from train.data import from_release
    from train.fast_vision import patch_vision
    if model is None or processor is None:
        model, processor = load_model_and_processor(p.model, p.bf16)
    patch_vision(model)  # one batched SDPA call per vision layer, same math (VIDEOKR_FAST_VISION=0: stock)
    if torch.cuda.is_available() if p.compile_blocks is None else p.compile_blocks:
        from train.fast_compile import compile_blocks
        model.config.use_cache = False  # training reads no KV cache; a cache object would specialise each layer's graph
        compile_blocks(model)
    rows = [from_release(json.loads(line)) for line in Path(p.data).read_text().splitlines() if line.strip()]
    if not rows:
        raise ValueError(f"{p.data}: no examples")
    base = Path(p.data).resolve().parent
    for r in rows:  # resolve relative video paths against the JSONL's folder
        if not Path(r["video_path"]).is_absolute():
            r["video_path"] = str(base / r["video_path"])
    rows = [{k: (json.dumps(v) if k == "options" else v) for k, v in r.items()} for r in rows]
    dataset = Dataset.from_list(rows)
    collator = _OptionsDecoding(VideoSFTCollator(processor, p.frames, p.max_video_tokens, p.max_length))
    return SFTTrainer(model=model, args=sft_config(p), train_dataset=dataset, processing_class=processor,
                      data_collator=collator)


class _OptionsDecoding:
    """Options are stored as JSON text in the Arrow dataset (ragged lists of strings); decode them back."""

    def __init__(self, inner):
        self.inner = inner

    def __call__(self, rows):
        return self.inner([{**r, "options": json.loads(r["options"]) if isinstance(r.get("options"), str)
                            else r.get("options")} for r in rows])


def run(p: SFTParams, model=None, processor=None) -> dict:
    """Train; save the final model + processor to p.out; return (and write) a run summary."""
    started = time.time()
    trainer = build_trainer(p, model, processor)
    summary = train_and_save(trainer, p, "sft", started) | {"skipped": trainer.data_collator.inner.skipped}
    write_summary(p.out, summary)
    return summary


def main(argv: list[str] | None = None) -> dict:
    from train.cli import cli_main
    return cli_main("python -m train.sft", __doc__, SFTParams, run, argv)


if __name__ == "__main__":
    main()
