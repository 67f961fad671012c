"""Video GRPO on tiny models (CPU): scoring reproduces generation; 3 training steps give a finite, non-zero loss."""
import math

import pytest
import torch
from trl import GRPOTrainer

from train.grpo import GRPOParams, build_trainer, run
from train.sft import SFTParams, run as sft_run
from train.synthetic import write_dataset
from train.tiny import build_tiny


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    root = tmp_path_factory.mktemp("grpo")
    return {"root": root, "sft": write_dataset(root / "data", n=4, sft=True),
            "rl": write_dataset(root / "data", n=4, sft=False, open_ended_every=2)}


def grpo_params(world, model, out, **kw):
    base = dict(model=str(model), data=str(world["rl"]), out=str(world["root"] / out), frames=4, num_generations=4,
                per_device_batch=4, effective_batch=1, max_completion_length=24, lr=1e-3,
                record_generation_logps=True)
    return GRPOParams(**{**base, **kw})


def logprob_gaps(trainer):
    """(max |ours - generation|, max |stock TRL - generation|) over the completion tokens of one rollout batch."""
    inputs = next(iter(trainer.get_train_dataloader()))
    out = trainer._generate_and_score_completions(inputs)
    ids = torch.cat([out["prompt_ids"], out["completion_ids"]], 1)
    mask = torch.cat([out["prompt_mask"], out["completion_mask"]], 1)
    keep, tokens = out["completion_ids"].size(1), out["completion_mask"].bool()
    generated = out["sampling_per_token_logps"]
    with torch.no_grad():
        trainer._active_videos = out["video_inputs"]
        ours, _, _ = trainer._get_per_token_logps_and_entropies(trainer.model, ids, mask, keep)
        trainer._active_videos = None
        stock, _, _ = GRPOTrainer._get_per_token_logps_and_entropies(trainer, trainer.model, ids, mask, keep)
    assert tokens.sum() > 0
    return (ours - generated)[tokens].abs().max().item(), (stock - generated)[tokens].abs().max().item()


@pytest.mark.parametrize("family", ["qwen2_5_vl", "qwen3_vl"])
def test_recomputed_logps_match_generation(world, family):
    base = build_tiny(family, world["root"] / f"base-{family}")
    trainer = build_trainer(grpo_params(world, base, f"lp-{family}"))
    ours, stock = logprob_gaps(trainer)
    assert ours < 1e-4, f"video-aware scoring differs from generation by {ours}"
    assert stock > 1e-2, f"stock TRL scoring unexpectedly matches generation ({stock})"


def test_generation_never_emits_vision_placeholders(world):
    base = build_tiny("qwen2_5_vl", world["root"] / "base-ph")
    trainer = build_trainer(grpo_params(world, base, "ph"))
    tok = trainer.processing_class.tokenizer
    banned = {tok.convert_tokens_to_ids(t) for t in ("<|video_pad|>", "<|image_pad|>", "<|vision_start|>",
                                                     "<|vision_end|>")}
    assert banned <= set(trainer.generation_config.suppress_tokens)
    out = trainer._generate_and_score_completions(next(iter(trainer.get_train_dataloader())))
    generated = out["completion_ids"][out["completion_mask"].bool()]
    assert not any(int(t) in banned for t in generated)


def test_grpo_three_steps_after_sft(world):
    sft = sft_run(SFTParams(model=str(build_tiny("qwen2_5_vl", world["root"] / "base")), data=str(world["sft"]),
                            out=str(world["root"] / "sft"), frames=4, lr=5e-3, effective_batch=4,
                            per_device_batch=4, max_steps=30, save_steps=1000, warmup=0.0,
                            lr_scheduler="constant"))
    s = run(grpo_params(world, sft["output_dir"], "grpo", max_steps=3, record_generation_logps=False))
    assert s["global_step"] == 3 and len(s["losses"]) == 3
    assert all(math.isfinite(l) for l in s["losses"])
    assert any(abs(l) > 0 for l in s["losses"])
    assert any(r > 0 for r in s["rewards"])                             # the SFT'd policy earns some reward
