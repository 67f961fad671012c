"""GRPO on the VideoKR RL export with the video-aware trainer (train.video_grpo) and the VideoKR reward.

    python -m train.grpo --model runs/sft --data exports/<v>/videokr/rl.jsonl --out runs/grpo      # SFT -> RL
    python -m train.grpo --model BASE_DIR --data .../rl.jsonl --out runs/zero-rl                   # Zero-RL

Paper defaults: lr 5e-6, 8 rollouts per prompt, temperature 1.0, KL coefficient (beta) 0.01, completions up to 2,048
tokens, batch 32 prompts per optimizer step (x 8 rollouts = per-device rollouts x accumulation x world size),
AdamW, 1 epoch, bf16 on GPU. Reward R = 0.1 * format + 0.9 * accuracy (train.rewards.videokr_reward, the release's
reward; `--strict-format` rejects nested/multiple answer blocks, see train/rewards.py).
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from train.common import (TrainParams, cpu_deepspeed_state, deepspeed_config, grad_accum_for, load_model_and_processor,
                          train_and_save, use_bf16, write_summary)
from train.data import load_jsonl, prompt_text
from train.rewards import trl_reward_func

log = logging.getLogger("videokr.train")


@dataclass
class GRPOParams(TrainParams):
    lr: float = 5e-6
    num_generations: int = 8
    temperature: float = 1.0
    beta: float = 0.01
    max_completion_length: int = 2048
    effective_batch: int = 32          # prompts per optimizer step; each brings num_generations rollouts
    per_device_batch: int = 8          # rollouts per device per micro-batch; a multiple of num_generations helps
    save_steps: int = 200
    record_generation_logps: bool = False
    fast_rollout: bool = False         # train.rollout: prefix-shared, CUDA-graph decoding (Qwen2.5-VL)
    strict_format: bool = False        # True: the stricter format check (no nested/multiple answer blocks)


def grpo_config(p: GRPOParams):
    from trl import GRPOConfig
    return GRPOConfig(
        **cpu_deepspeed_state(p.deepspeed),
        output_dir=p.out, learning_rate=p.lr, num_train_epochs=p.epochs, max_steps=p.max_steps,
        per_device_train_batch_size=p.per_device_batch,
        gradient_accumulation_steps=grad_accum_for(p.effective_batch * p.num_generations, p.per_device_batch),
        num_generations=p.num_generations, temperature=p.temperature, beta=p.beta,
        max_completion_length=p.max_completion_length, optim="adamw_torch", bf16=use_bf16(p.bf16),
        deepspeed=deepspeed_config(p.deepspeed), gradient_checkpointing=p.gradient_checkpointing,
        save_strategy="steps", save_steps=p.save_steps, save_total_limit=p.save_total_limit,
        logging_steps=p.logging_steps, seed=p.seed, report_to="none", remove_unused_columns=False,
        log_completions=False)


def rl_dataset(path: str):
    """Rows for the trainer: a text-only chat prompt (the video is added by the trainer), the video path, and the
    reward columns `solution` and `problem_type`."""
    from datasets import Dataset
    rows = []
    for ex in load_jsonl(path):
        rows.append({"prompt": [{"role": "user", "content": prompt_text(ex)}], "video_path": ex.video_path,
                     "solution": ex.solution, "problem_type": ex.problem_type, "problem_id": ex.problem_id,
                     "frame_budget": int(ex.extra.get("frame_budget") or 0),
                     "frame_timestamps": [float(t) for t in ex.extra.get("frame_timestamps") or []]})
    if not rows:
        raise ValueError(f"{path}: no examples")
    return Dataset.from_list(rows)


def build_trainer(p: GRPOParams, model=None, processor=None):
    from train.video_grpo import VideoGRPOTrainer
    if model is None or processor is None:
        model, processor = load_model_and_processor(p.model, p.bf16)
    from train.fast_vision import patch_vision
    patch_vision(model)  # the rollouts' prefill and both log-prob passes run the vision tower: same math, batched
    return VideoGRPOTrainer(model=model, reward_funcs=[trl_reward_func(p.strict_format)], args=grpo_config(p),
                            train_dataset=rl_dataset(p.data), processing_class=processor, n_frames=p.frames,
                            max_video_tokens=p.max_video_tokens, record_generation_logps=p.record_generation_logps,
                            fast_rollout=p.fast_rollout)


def run(p: GRPOParams, model=None, processor=None) -> dict:
    started = time.time()
    trainer = build_trainer(p, model, processor)
    summary = train_and_save(trainer, p, "grpo", started)
    summary["rewards"] = [h["reward"] for h in trainer.state.log_history if "reward" in h]
    write_summary(p.out, summary)
    return summary


def main(argv: list[str] | None = None) -> dict:
    from train.cli import cli_main
    return cli_main("python -m train.grpo", __doc__, GRPOParams, run, argv)


if __name__ == "__main__":
    main()
