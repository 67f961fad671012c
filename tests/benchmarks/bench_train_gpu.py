"""Benchmark: SFT and GRPO step throughput of a 7B-class Qwen2.5-VL on 128-frame video (random init, bf16).

    python tests/benchmarks/bench_train_gpu.py [--out FILE] [--steps 3] [--gen-tokens 256] [--no-full-ft]
    python tests/benchmarks/bench_train_gpu.py --tiny        # CPU smoke test: tiny dims, 8 frames at 56x56

Model: Qwen2_5_VLForConditionalGeneration with the 7B dims (LM 3584 hidden, 28 layers, 28/4 heads, MLP 18944, vocab
152064; vision 32 blocks of 1280, out 3584), random init, bf16, SDPA attention, gradient checkpointing (non-reentrant).
Video: 128 frames of 224x224 -> 64 temporal groups x 16x16 patches = 16,384 patches -> 4,096 video tokens, made by
the model's own video processor (train.data.video_inputs); prompt ~200 text tokens, response ~300 tokens.

Choice: LoRA (peft, r=64, alpha=128, every linear of the LM's 28 layers; vision tower and merger frozen), AdamW
(torch, fused). Full AdamW with fp32 master weights and states needs ~16 B/param = ~130 GB for 8.3 B params: no fit
on one 80 GB H100 without ZeRO offload. As an extra, the same SFT step with the whole LM trained (pure-bf16 AdamW,
bf16 states, no fp32 master: ~8 B/param = 61 GB; fits, but not how one would really train) is measured last.

Passes, as the project's trainers run them (TRL 1.16 when importable, else the same passes written directly):
  SFT:  TRL SFTTrainer.compute_loss: model(**batch, fused_lm_head=True); loss = mean -log p over response tokens;
        backward; optimizer step. Batch 1 (train.sft default per-device batch).
  GRPO: 8 rollouts of one prompt, each row with its own copy of the video (as VideoGRPOTrainer batches them),
        HF generate, sampled, temperature 1.0, vision placeholders suppressed (train.video_grpo.vision_token_ids);
        reward train.rewards.videokr_reward; group-normalised advantages; then the reference log-prob pass (adapter
        off, no grad) and the policy pass with grad, both through VideoGRPOTrainer._get_per_token_logps_and_entropies
        (video tensors + mm_token_type_ids on every pass); DAPO loss with beta 0.01 (k3 KL); backward; step.

Model FLOPs (MFU = FLOPs / step time / 989e12, the H100 and H200 SXM bf16 dense peak):
  LM    = k * (2*N_layers*T + 2*N_head*T_loss + 2*L*d*sum(T_i^2))    T: all tokens (video included), T_loss: tokens
          scored by the fused LM head, last term: causal attention (QK^T + AV, halved), k = 3 for forward+backward,
          1 for a forward. k = 3 is the usual 6*N*T convention: with LoRA the frozen weights' gradients are not
          computed (~4*N*T is done), and the gradient-checkpoint recompute (+2*N*T) is not counted either.
  Vision = 2*N_vis*P + 4*sum_layers(P*block*d_v)   P patches (merger at P/4), block = 64-patch window or 256-patch
          frame; the tower is frozen, so it runs forward only (once per pass that sees the video).
Baselines in the same run (ratios of step time, tokens/s and peak memory):
  stock: the same LoRA + checkpointing step as transformers/peft/TRL set it up. gradient_checkpointing_enable and
         get_peft_model hook every sub-model's input embeddings (enable_input_require_grads), the vision patch
         embedding included, so the frozen 0.68 B vision tower is back-propagated and recomputed; SDPA on cuDNN.
  ours:  those hooks removed (non-reentrant checkpointing does not need them; LoRA grads still flow, checked as
         params_with_grad) and the SDPA backend whose per-window vision calls were faster in this run.
  no-gc: ours without gradient checkpointing (what checkpointing costs in time and saves in memory).
"""
from __future__ import annotations

import argparse
import contextlib
import gc
import json
import os
import sys
import time
import types
import warnings
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
HOPPER_BF16_DENSE = 989e12
warnings.filterwarnings("ignore", message=".*gradient_checkpointing_(en|dis)able.*deprecated")


from train.rewards import videokr_reward  # noqa: E402

try:  # the project's GRPO trainer and TRL's fused LM head (needs trl + datasets)
    from trl.trainer.utils import add_fused_lm_head

    from train.video_grpo import VideoGRPOTrainer, vision_token_ids
    TRL = True
except ImportError as exc:  # pragma: no cover - only where trl cannot be installed
    TRL, TRL_ERROR = False, f"{type(exc).__name__}: {exc}"

from train_workload import (LORA_TARGETS, SEVEN_B, TINY, build, counts, example, lm_flops,  # noqa: E402
                            rl_prompt, sft_batch, synthetic_frames, vision_flops)


# ---- timing and memory -----------------------------------------------------------------------------------------
CUDA = torch.cuda.is_available()


def now() -> float:
    if CUDA:
        torch.cuda.synchronize()
    return time.perf_counter()


def reset_peak():
    if CUDA:
        gc.collect()
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()


def peak_gib() -> float | None:
    return round(torch.cuda.max_memory_allocated() / 2**30, 2) if CUDA else None


def mfu(flops: float, seconds: float):
    return round(flops / seconds / HOPPER_BF16_DENSE, 4) if CUDA else None


def amp():
    """bf16 autocast on GPU, as accelerate applies to a prepared model's forward under bf16 mixed precision (the LoRA
    adapters stay fp32, peft's default, as under TRL)."""
    return torch.autocast("cuda", dtype=torch.bfloat16) if CUDA else contextlib.nullcontext()


def set_gc(hf, on: bool, keep_hooks: bool = False):
    """Gradient checkpointing (non-reentrant) on/off. transformers' enable (and peft's get_peft_model) register
    `enable_input_require_grads` hooks on every sub-model's input embeddings, the vision patch embedding included:
    the frozen vision tower is then back-propagated and, under checkpointing, recomputed. Non-reentrant checkpointing
    needs no such hook, so unless `keep_hooks` (the stock setup) they are removed again."""
    if on:
        hf.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
        if not keep_hooks:
            hf.disable_input_require_grads()
    else:
        hf.gradient_checkpointing_disable()


def vision_time(hf, batch: dict, cudnn: bool) -> float:
    """Seconds for one forward of the vision tower on one video (no grad), the second of two calls."""
    torch.backends.cuda.enable_cudnn_sdp(cudnn)
    with torch.no_grad(), amp():
        for _ in range(2):
            t0 = now()
            hf.model.get_video_features(batch["pixel_values_videos"], batch["video_grid_thw"])
            t = now() - t0
    return t


# ---- SFT -------------------------------------------------------------------------------------------------------
def sft_loss(model, batch: dict):
    with amp():
        if TRL:  # TRL SFTTrainer.compute_loss (loss_type nll)
            out = model(**batch, use_cache=False, fused_lm_head=True)
            return (-out.log_probs).sum() / out.label_mask.sum().clamp(min=1)
        return model(**batch, use_cache=False).loss


def bench_sft(name: str, model, opt, batch: dict, steps: int, flops: float) -> dict:
    """Median of `steps` timed optimizer steps after one warm-up; an out-of-memory is reported, not raised."""
    reset_peak()
    times, loss, params = [], None, [p for g in opt.param_groups for p in g["params"]]
    try:
        for s in range(steps + 1):
            t0 = now()
            loss = sft_loss(model, batch)
            loss.backward()
            with_grad = sum(p.grad is not None for p in params) / len(params)
            opt.step()
            opt.zero_grad(set_to_none=True)
            if s:
                times.append(now() - t0)
    except torch.OutOfMemoryError as exc:
        opt.zero_grad(set_to_none=True)
        return {"name": name, "oom": str(exc).splitlines()[0][:160], "peak_gib": peak_gib()}
    step, tokens = float(np.median(times)), int(batch["attention_mask"].sum())
    return {"name": name, "step_s": round(step, 4), "tokens": tokens, "tokens_per_s": round(tokens / step, 1),
            "tflops_per_s": round(flops / step / 1e12, 1), "mfu": mfu(flops, step), "peak_gib": peak_gib(),
            "loss": round(loss.item(), 4), "params_with_grad": round(with_grad, 3), "steps_timed": len(times)}


# ---- GRPO ------------------------------------------------------------------------------------------------------
class Scorer:
    """Stands in for `self` so VideoGRPOTrainer's log-prob pass runs unchanged on these rows."""

    def __init__(self, proc, videos: list[dict]):
        self.processing_class, self._active_videos = proc, videos
        self.accelerator = types.SimpleNamespace(autocast=amp)

    def _video_fields(self, videos, device=None):
        return VideoGRPOTrainer._video_fields(videos, device)

    def _mm_token_type_ids(self, input_ids):
        return VideoGRPOTrainer._mm_token_type_ids(self, input_ids)

    def logps(self, model, ids, mask, keep, batch_size, entropy=False):
        if TRL:
            return VideoGRPOTrainer._get_per_token_logps_and_entropies(self, model, ids, mask, keep, batch_size,
                                                                      compute_entropy=entropy)[0]
        fields = {k: torch.cat([v[k] for v in self._active_videos]).to(ids.device) for k in self._active_videos[0]}
        mm = torch.tensor(self.processing_class.create_mm_token_type_ids(ids.tolist()), device=ids.device)
        with amp():
            logits = model(input_ids=ids, attention_mask=mask, mm_token_type_ids=mm, logits_to_keep=keep + 1,
                           **fields).logits[:, :-1].float()
        return torch.log_softmax(logits, -1).gather(-1, ids[:, -keep:, None]).squeeze(-1)


def generate(model, hf, proc, ids: torch.Tensor, videos: list[dict], max_new: int) -> tuple[torch.Tensor, float]:
    """Sampled rollouts (temperature 1.0, no top-k/top-p), vision placeholders suppressed; (sequences, seconds)."""
    fields = {k: torch.cat([v[k] for v in videos]).to(ids.device) for k in videos[0]}
    mm = torch.tensor(proc.create_mm_token_type_ids(ids.tolist()), device=ids.device)
    suppress = vision_token_ids(proc, hf) if TRL else [hf.config.video_token_id, hf.config.image_token_id]
    t0 = now()
    set_gc(hf, False)
    model.eval()
    with torch.no_grad(), amp():
        seq = model.generate(input_ids=ids, attention_mask=torch.ones_like(ids), mm_token_type_ids=mm, **fields,
                             do_sample=True, temperature=1.0, top_k=0, top_p=1.0, max_new_tokens=max_new,
                             suppress_tokens=suppress, use_cache=True)
    model.train()
    set_gc(hf, True)
    return seq, now() - t0


def grpo_step(model, hf, proc, ex, prompt_ids, video, opt, a, max_new: int) -> dict:
    dev, g, tok = a.device, a.generations, proc.tokenizer
    videos = [video] * g  # each rollout row carries its own copy of the video, as VideoGRPOTrainer batches them
    ids = torch.tensor([prompt_ids] * g, device=dev)
    seq, t_gen = generate(model, hf, proc, ids, videos, max_new)
    comp = seq[:, ids.size(1):]
    eos = comp == hf.generation_config.eos_token_id
    first = torch.where(eos.any(1), eos.int().argmax(1), comp.size(1))
    cmask = (torch.arange(comp.size(1), device=dev)[None] <= first[:, None]).long()
    texts = [tok.decode([t for t in row.tolist() if t < len(tok)]) for row in comp]
    rewards = torch.tensor([videokr_reward(t, ex.solution, ex.problem_type) for t in texts], device=dev)
    adv = (rewards - rewards.mean()) / (rewards.std() + 1e-4)
    full, mask, keep = torch.cat([ids, comp], 1), torch.cat([torch.ones_like(ids), cmask], 1), comp.size(1)
    t1, t_ref, n_items, loss_sum, mb = now(), 0.0, cmask.sum(), 0.0, a.micro_batch
    for s in range(0, g, mb):  # per-device micro-batches (gradient accumulation inside one optimizer step)
        sl, scorer = slice(s, s + mb), Scorer(proc, videos[s:s + mb])
        tr = now()
        with torch.no_grad(), model.disable_adapter():  # reference model = the base without the adapter
            ref = scorer.logps(model, full[sl], mask[sl], keep, mb)
        t_ref += now() - tr
        logp = scorer.logps(model, full[sl], mask[sl], keep, mb, entropy=True)
        d = ref - logp
        per_tok = -torch.exp(logp - logp.detach()) * adv[sl, None] + a.beta * (torch.exp(d) - d - 1)
        loss = (per_tok * cmask[sl]).sum() / n_items  # DAPO: normalised by the tokens of the whole batch
        loss.backward()
        loss_sum += loss.item()
    opt.step()
    opt.zero_grad(set_to_none=True)
    return {"gen_s": t_gen, "train_s": now() - t1, "ref_s": t_ref, "new_tokens": int(cmask.sum()), "loss": loss_sum,
            "seq_lens": [int(x) for x in mask.sum(1)], "reward_mean": float(rewards.mean())}


def bench_grpo(model, hf, proc, ex, frames, opt, a, c, dims) -> dict:
    prompt_ids, video = rl_prompt(proc, ex, frames)
    grpo_step(model, hf, proc, ex, prompt_ids, video, opt, a, max_new=4)  # warm-up
    reset_peak()
    ids = torch.tensor([prompt_ids] * a.generations, device=a.device)
    prefill = generate(model, hf, proc, ids, [video] * a.generations, 1)[1]  # one token: the prefill
    runs = [grpo_step(model, hf, proc, ex, prompt_ids, video, opt, a, a.gen_tokens) for _ in range(a.grpo_steps)]
    r = runs[-1]
    vis = vision_flops(c, dims["vision"], torch.cat([video["video_grid_thw"]] * a.generations))
    flops = (lm_flops(c, dims["text"], r["seq_lens"], r["new_tokens"], 1) + vis     # reference pass
             + lm_flops(c, dims["text"], r["seq_lens"], r["new_tokens"], 3) + vis)  # policy forward + backward
    gen, train = (float(np.median([x[k] for x in runs])) for k in ("gen_s", "train_s"))
    return {"rollouts": a.generations, "max_new_tokens": a.gen_tokens, "prompt_tokens": len(prompt_ids),
            "generated_tokens": r["new_tokens"], "gen_s": round(gen, 3), "prefill_s": round(prefill, 3),
            "gen_tokens_per_s": round(r["new_tokens"] / gen, 1),
            "decode_tokens_per_s": round((r["new_tokens"] - a.generations) / max(gen - prefill, 1e-9), 1),
            "train_s": round(train, 3), "ref_pass_s": round(float(np.median([x["ref_s"] for x in runs])), 3),
            "train_tokens": sum(r["seq_lens"]), "train_tokens_per_s": round(sum(r["seq_lens"]) / train, 1),
            "train_model_tflop": round(flops / 1e12, 1), "train_tflops_per_s": round(flops / train / 1e12, 1),
            "train_mfu": mfu(flops, train), "step_s": round(gen + train, 3), "peak_gib": peak_gib(),
            "loss": round(r["loss"], 5), "reward_mean": r["reward_mean"], "steps_timed": len(runs)}


# ---- main ------------------------------------------------------------------------------------------------------
def parse(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--tiny", action="store_true", help="tiny dims, 8 frames at 56x56, CPU fp32 (smoke test)")
    ap.add_argument("--steps", type=int, default=3, help="timed SFT steps per configuration (after one warm-up)")
    ap.add_argument("--grpo-steps", type=int, default=2, help="timed GRPO steps (after a short warm-up step)")
    ap.add_argument("--gen-tokens", type=int, default=None, help="max_new_tokens per rollout (256; tiny 16)")
    ap.add_argument("--generations", type=int, default=8)
    ap.add_argument("--micro-batch", type=int, default=8, help="GRPO rows per log-prob pass (train.grpo: 8)")
    ap.add_argument("--beta", type=float, default=0.01)
    ap.add_argument("--lora-r", type=int, default=64)
    ap.add_argument("--no-full-ft", action="store_true", help="skip the full-LM pure-bf16 AdamW SFT extra")
    ap.add_argument("--out", default=None, help="write the report here (default $OUT/bench_train_gpu.txt if set)")
    a = ap.parse_args(argv)
    if not a.tiny and not torch.cuda.is_available():  # `make bench` on a CPU machine: the 7B run needs a GPU
        print("no GPU here: running the --tiny smoke configuration; the 7B figures need a GPU (see README)")
        a.tiny = True
    a.device = "cpu" if a.tiny else "cuda"
    a.gen_tokens = a.gen_tokens or (16 if a.tiny else 256)
    return a


def main(argv=None) -> dict:
    global CUDA
    from peft import LoraConfig, get_peft_model
    a = parse(argv)
    CUDA, dims = a.device == "cuda", TINY if a.tiny else SEVEN_B
    t0 = time.perf_counter()
    hf, proc = build(dims, a.device, torch.bfloat16 if CUDA else torch.float32)
    if TRL:
        add_fused_lm_head(hf, outputs=("log_probs", "entropy", "is_top1"))
    c, frames = counts(hf), synthetic_frames(dims["frames"], dims["side"])
    ex = example(proc.tokenizer, dims["prompt_tokens"], dims["response_tokens"])
    batch = {k: v.to(a.device) for k, v in sft_batch(proc, ex, frames).items()}
    n_resp, seq, grid = int((batch["labels"] != -100).sum()), int(batch["attention_mask"].sum()), batch["video_grid_thw"]
    set_gc(hf, True)
    hf.train()
    model = get_peft_model(hf, LoraConfig(r=a.lora_r, lora_alpha=2 * a.lora_r, lora_dropout=0.0,
                                          target_modules=LORA_TARGETS))
    hf.disable_input_require_grads()  # drop peft's hooks; the stock configuration below adds them back
    trainable = [p for p in model.parameters() if p.requires_grad]
    sft_flops = lm_flops(c, dims["text"], [seq], n_resp, 3) + vision_flops(c, dims["vision"], grid)
    res = {"device": torch.cuda.get_device_name() if CUDA else "cpu", "torch": torch.__version__,
           "transformers": __import__("transformers").__version__, "trl": TRL and __import__("trl").__version__,
           "trl_error": None if TRL else TRL_ERROR, "dtype": "bf16" if CUDA else "fp32", "params": c,
           "lora_r": a.lora_r, "lora_params": sum(p.numel() for p in trainable),
           "build_s": round(time.perf_counter() - t0, 1), "frames": dims["frames"], "frame_side": dims["side"],
           "video_grid_thw": grid.tolist(), "video_tokens": int((batch["input_ids"] == hf.config.video_token_id).sum()),
           "sft_seq_tokens": seq, "sft_response_tokens": n_resp, "sft_model_tflop": round(sft_flops / 1e12, 2),
           "vision_fwd_one_video_s": {"cudnn_sdpa": round(vision_time(hf, batch, True), 4),
                                      "no_cudnn_sdpa": round(vision_time(hf, batch, False), 4)}}
    cudnn = res["vision_fwd_one_video_s"]["cudnn_sdpa"] <= res["vision_fwd_one_video_s"]["no_cudnn_sdpa"]
    opt = torch.optim.AdamW(trainable, lr=1e-5, fused=CUDA)
    torch.backends.cuda.enable_cudnn_sdp(True)
    set_gc(hf, True, keep_hooks=True)
    res["sft_stock"] = bench_sft("lora+gc, stock setup (peft/transformers hooks: vision tower back-propagated; "
                                 "cuDNN SDPA)", model, opt, batch, a.steps, sft_flops)
    hf.disable_input_require_grads()
    torch.backends.cuda.enable_cudnn_sdp(cudnn)
    set_gc(hf, True)
    res["sft_lora_gc"] = bench_sft(f"lora+gc (ours: frozen tower forward only; {'cuDNN' if cudnn else 'non-cuDNN'}"
                                   " SDPA)", model, opt, batch, a.steps, sft_flops)
    report(res, a, final=False)
    set_gc(hf, False)
    res["sft_lora_no_gc"] = bench_sft("lora, no gc (ours without checkpointing)", model, opt, batch, a.steps,
                                      sft_flops)
    set_gc(hf, True)
    for key, base in (("ratio_ours_vs_stock", "sft_stock"), ("ratio_ours_vs_no_gc", "sft_lora_no_gc")):
        b, o = res["sft_lora_gc"], res[base]
        if "oom" not in o and "oom" not in b:
            res[key] = {"step_time": round(b["step_s"] / o["step_s"], 3),
                        "tokens_per_s": round(b["tokens_per_s"] / o["tokens_per_s"], 3),
                        "peak_memory": b["peak_gib"] and round(b["peak_gib"] / o["peak_gib"], 3)}
    report(res, a, final=False)
    opt = torch.optim.AdamW(trainable, lr=5e-6, fused=CUDA)
    try:
        res["grpo_lora_gc"] = bench_grpo(model, hf, proc, ex, frames, opt, a, c, dims)
    except torch.OutOfMemoryError as exc:
        res["grpo_lora_gc"] = {"oom": str(exc).splitlines()[0][:160], "peak_gib": peak_gib()}
    del opt, trainable
    report(res, a, final=False)
    if not a.no_full_ft:  # the extra: the whole LM trained (vision frozen), pure-bf16 AdamW
        base = model.unload()
        for n, p in base.named_parameters():
            p.requires_grad_(".visual." not in f".{n}")
        params = [p for p in base.parameters() if p.requires_grad]
        opt = torch.optim.AdamW(params, lr=1e-5, fused=CUDA)
        res["sft_full_lm_bf16_adamw"] = bench_sft("full LM, pure-bf16 AdamW, gc", base, opt, batch, a.steps,
                                                  sft_flops)
        res["sft_full_lm_bf16_adamw"]["trainable_params"] = sum(p.numel() for p in params)
    report(res, a)
    return res


def report(res: dict, a, final: bool = True) -> None:
    """Print the figures (final only) and write them, with the raw JSON, to --out / $OUT (also after each phase)."""
    c = res["params"]
    lines = [f"bench_train_gpu  device={res['device']}  torch={res['torch']}  transformers={res['transformers']}  "
             f"trl={res['trl']}  {res['dtype']}  tiny={a.tiny}",
             f"  params {c['total'] / 1e9:.3f} B (LM layers {c['lm_layers'] / 1e9:.3f}, lm_head {c['lm_head'] / 1e9:.3f},"
             f" vision {(c['vis_blocks'] + c['vis_merger']) / 1e9:.3f}); LoRA r={res['lora_r']}: "
             f"{res['lora_params'] / 1e6:.1f} M trainable; built in {res['build_s']} s",
             f"  video {res['frames']} frames {res['frame_side']}px, grid_thw {res['video_grid_thw']} -> "
             f"{res['video_tokens']} tokens; SFT sequence {res['sft_seq_tokens']} tokens, {res['sft_response_tokens']} "
             f"in the loss; model FLOPs/step {res['sft_model_tflop']} T; vision tower fwd (1 video, SDPA per window) "
             f"s: {res['vision_fwd_one_video_s']}"]
    if res["trl_error"]:
        lines.append(f"  trl not importable ({res['trl_error']}): passes written directly, same math")
    lines += [f"  SFT {res[k]['name']}: " + json.dumps({x: y for x, y in res[k].items() if x != "name"})
              for k in ("sft_stock", "sft_lora_gc", "sft_lora_no_gc", "sft_full_lm_bf16_adamw") if k in res]
    for key, what in (("ratio_ours_vs_stock", "stock setup"), ("ratio_ours_vs_no_gc", "ours without checkpointing")):
        if key in res:
            lines.append(f"  RATIO ours / {what}, same run: " + json.dumps(res[key]))
    if "grpo_lora_gc" in res:
        lines.append("  GRPO lora+gc: " + json.dumps(res["grpo_lora_gc"]))
    lines.append(f"  MFU = model FLOPs / time / {HOPPER_BF16_DENSE / 1e12:.0f} TFLOP/s (H100/H200 SXM bf16 dense); "
                 "formulas in the module docstring")
    text = "\n".join(lines)
    if final:
        print(text, flush=True)
    out = a.out or (os.path.join(os.environ["OUT"], "bench_train_gpu.txt") if os.environ.get("OUT") else None)
    if out:
        Path(out).write_text(text + "\n\n" + json.dumps(res, indent=1, default=str) + "\n")


if __name__ == "__main__":
    main()
