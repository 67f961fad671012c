"""Benchmark: SFT and GRPO step throughput of a 7B-class Qwen2.5-VL on 128-frame video (random init, bf16).

    python tests/benchmarks/bench_train_gpu.py [--out FILE] [--steps 3] [--gen-tokens 256] [--prompts 32]
        [--grpo-prompts 2] [--skip sft rollouts grpo full_ft]
    python tests/benchmarks/bench_train_gpu.py --tiny        # CPU smoke test: tiny dims, 8 frames at 56x56

Model: Qwen2_5_VLForConditionalGeneration with the 7B dims (LM 3584 hidden, 28 layers, 28/4 heads, MLP 18944, vocab
152064; vision 32 blocks of 1280, out 3584), random init, bf16, SDPA attention, gradient checkpointing (non-reentrant).
Video: 128 frames of 224x224 -> 64 temporal groups x 16x16 patches = 16,384 patches -> 4,096 video tokens, made by
the model's own video processor (train.data.video_inputs); prompt ~200 text tokens, response ~300 tokens.

Choice: LoRA (peft, r=64, alpha=128, every linear of the LM's 28 layers; vision tower and merger frozen), AdamW
(torch, fused). Full fine-tuning (the paper's recipe: the whole LM, vision tower frozen): fp32 AdamW needs ~16 B/param
(~130 GB), so on one GPU the LM trains with BF16AdamW (train_workload: bf16 weights and moments, stochastic rounding,
~8 B/param = 61 GB), with and without checkpointing, and with 4 micro-batches accumulated per optimizer step.

Passes, as the project's trainers run them (TRL when importable, else the same passes written directly):
  SFT:  TRL SFTTrainer.compute_loss: model(**batch, fused_lm_head=True); loss = mean -log p over response tokens;
        backward; optimizer step. Batch 1 (train.sft default per-device batch), `accum` micro-batches per step.
  Rollouts (rollout_workload): HF generate (each row with its own video copy, eager, dynamic cache) against
        train.rollout (prefill once per prompt, prefix shared by its 8 rollouts, static cache, CUDA-graph decode),
        sampled at temperature 1.0, vision placeholders suppressed; at 1 prompt x 8 (HF's shape) and --prompts x 8.
        The bound: decode tokens/s if a step took (weights + KV read) / HBM bandwidth (a device copy, same run).
  GRPO: --grpo-prompts prompts x 8 rollouts, rewards train.rewards.videokr_reward, group-normalised advantages, the
        reference (adapter off) and policy log-prob passes through VideoGRPOTrainer._get_per_token_logps_and_entropies
        (video tensors + mm_token_type_ids, 8-row micro-batches); DAPO loss with beta 0.01; backward; step; with HF
        generate and with the fast rollouts.

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
  compiled: the fast LoRA step eager, then with train.fast_compile's compiled vision blocks, then LM layers too (with
         and without checkpointing), with a kernel profile (GEMM / attention / other) of the eager and compiled step;
         the whole-LM phase adds compiled rows beside its eager ones.
  rollouts: HF generate at 1 prompt x 8 (today's path); the fast path's figures are ratios to it and to the bound.
  GRPO step: the same step with HF generate (same prompts, same run). Full fine-tuning: ratios to LoRA + gc (ours).
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
import traceback
import warnings
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
warnings.filterwarnings("ignore", message=".*gradient_checkpointing_(en|dis)able.*deprecated")

import rollout_workload as rw  # noqa: E402
import sft_phases as sp  # noqa: E402
from rollout_workload import TRL, Scorer, bound, fast_generate, grpo_step, hf_generate, set_gc  # noqa: E402
from sft_phases import (HOPPER_BF16_DENSE, bench_full_ft, bench_sft, bench_sft_fast, mfu, peak_gib,  # noqa: E402
                        ratio, reset_peak, vision_time)
from train_workload import (LORA_TARGETS, SEVEN_B, TINY, build, counts, example, lm_flops, rl_prompt,  # noqa: E402
                            sft_batch, synthetic_frames, vision_flops)

if TRL:
    from trl.trainer.utils import add_fused_lm_head

CUDA = torch.cuda.is_available()


def phase(res: dict, key: str, fn, *args):
    """Run one phase; an out-of-memory or error is recorded under its key and the next phase still runs."""
    try:
        res[key] = fn(*args)
    except torch.OutOfMemoryError as exc:
        res[key] = {"oom": str(exc).splitlines()[0][:160], "peak_gib": peak_gib()}
    except Exception as exc:  # noqa: BLE001 - a benchmark reports what broke and goes on
        res[key] = {"error": f"{type(exc).__name__}: {exc}"[:400], "trace": traceback.format_exc()[-1500:]}
    reset_peak()


# ---- rollouts and GRPO -----------------------------------------------------------------------------------------
def bench_rollouts(model, hf, proc, prompts, video, a) -> dict:
    g, n, dev = a.generations, a.gen_tokens, a.device
    res = {"hbm_copy_tb_per_s": None, "matmul_bf16_tflops": None}
    bw, tf = rw.hbm_bandwidth(), rw.matmul_tflops()
    res.update(hbm_copy_tb_per_s=bw and round(bw / 1e12, 3), matmul_bf16_tflops=tf and round(tf, 1))
    res["logp_check"] = rw.logp_check(model, hf, proc, prompts[0], video, a.suppress, Scorer(proc, [video] * 4),
                                      min(64, n))
    fast_generate(model, hf, proc, prompts[:2], video, g, 8, a.suppress)  # warm-up
    ids = torch.tensor([prompts[0]] * g, device=dev)
    hf_generate(model, hf, proc, ids, [video] * g, 2, a.suppress)  # warm-up
    prefill = hf_generate(model, hf, proc, ids, [video] * g, 1, a.suppress)[1]
    seq, t = hf_generate(model, hf, proc, ids, [video] * g, n, a.suppress)
    steps = seq.size(1) - ids.size(1) - 1
    res["hf_1x8"] = rw.summary(f"HF generate, 1 prompt x {g}", g, n, t, prefill, steps, t - prefill)
    for key, p in (("fast_1x8", prompts[:1]), ("fast_paper", prompts)):
        _, t, ro = fast_generate(model, hf, proc, p, video, g, n, a.suppress)
        res[key] = rw.summary(f"fast rollouts ({ro.attention}, cuda_graph={ro.cuda_graph}), {len(p)} prompts x {g}",
                              len(p) * g, n, t, ro.prefill_s, ro.decode_steps, ro.decode_s)
        if ro.graph_error:
            res[key]["graph_error"] = ro.graph_error
        if bw:
            res[key]["bound"] = bound(hf, [len(x) for x in p], len(p) * g, ro.decode_steps, bw, tf)
            b = res[key]["bound"]
            res[key]["decode_vs_bw_bound"] = round(res[key]["decode_tokens_per_s"] / b["bw_bound_tokens_per_s"], 3)
            res[key]["decode_vs_no_sharing_bound"] = round(res[key]["decode_tokens_per_s"]
                                                           / b["bw_bound_no_sharing_tokens_per_s"], 3)
            res[key]["decode_vs_roofline"] = round(res[key]["decode_tokens_per_s"] / b["roofline_tokens_per_s"], 3)
        res[key]["vs_hf_1x8"] = ratio(res[key], res["hf_1x8"], ("rollout_tokens_per_s", "decode_tokens_per_s"))
        res[key]["vs_today_132_9"] = round(res[key]["rollout_tokens_per_s"] / 132.9, 2)
    res["peak_gib"] = peak_gib()
    return res


def bench_grpo(model, hf, proc, ex, prompts, video, opt, a, c, dims, fast: bool) -> dict:
    grpo_step(model, hf, proc, ex, prompts[:1], video, opt, a, 4, fast)  # warm-up
    reset_peak()
    runs = [grpo_step(model, hf, proc, ex, prompts, video, opt, a, a.gen_tokens, fast) for _ in range(a.grpo_steps)]
    r, grid = runs[-1], video["video_grid_thw"]
    vis = vision_flops(c, dims["vision"], torch.cat([grid] * len(r["seq_lens"])))
    flops = (lm_flops(c, dims["text"], r["seq_lens"], r["new_tokens"], 1) + vis     # reference pass
             + lm_flops(c, dims["text"], r["seq_lens"], r["new_tokens"], 3) + vis)  # policy forward + backward
    gen, train = (float(np.median([x[k] for x in runs])) for k in ("gen_s", "train_s"))
    return {"generation": "fast (train.rollout)" if fast else "HF generate", "prompts": len(prompts),
            "rollouts": len(r["seq_lens"]), "max_new_tokens": a.gen_tokens, "generated_tokens": r["new_tokens"],
            "gen_s": round(gen, 3), "gen_tokens_per_s": round(r["new_tokens"] / gen, 1), "train_s": round(train, 3),
            "ref_pass_s": round(float(np.median([x["ref_s"] for x in runs])), 3),
            "opt_step_s": round(float(np.median([x["opt_s"] for x in runs])), 3),
            "train_tokens": sum(r["seq_lens"]), "train_tokens_per_s": round(sum(r["seq_lens"]) / train, 1),
            "train_mfu": mfu(flops, train), "step_s": round(gen + train, 3), "gen_share": round(gen / (gen + train), 3),
            "peak_gib": peak_gib(), "loss": round(r["loss"], 5), "reward_mean": r["reward_mean"],
            "steps_timed": len(runs)}


# ---- main ------------------------------------------------------------------------------------------------------
def parse(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--tiny", action="store_true", help="tiny dims, 8 frames at 56x56, CPU fp32 (smoke test)")
    ap.add_argument("--steps", type=int, default=3, help="timed SFT steps per configuration (after one warm-up)")
    ap.add_argument("--grpo-steps", type=int, default=1, help="timed GRPO steps (after a short warm-up step)")
    ap.add_argument("--gen-tokens", type=int, default=None, help="max_new_tokens per rollout (256; tiny 16)")
    ap.add_argument("--generations", type=int, default=8)
    ap.add_argument("--prompts", type=int, default=None, help="prompts in the rollout figure (32, the paper's batch)")
    ap.add_argument("--grpo-prompts", type=int, default=None, help="prompts in the timed GRPO steps (2; tiny 1)")
    ap.add_argument("--micro-batch", type=int, default=8, help="GRPO rows per log-prob pass (train.grpo: 8)")
    ap.add_argument("--beta", type=float, default=0.01)
    ap.add_argument("--lora-r", type=int, default=64)
    ap.add_argument("--skip", nargs="*", default=[], choices=["sft", "compiled", "rollouts", "grpo", "full_ft"])
    ap.add_argument("--no-full-ft", action="store_true", help="same as --skip full_ft")
    ap.add_argument("--out", default=None, help="write the report here (default $OUT/bench_train_gpu.txt if set)")
    a = ap.parse_args(argv)
    if not a.tiny and not torch.cuda.is_available():  # `make bench` on a CPU machine: the 7B run needs a GPU
        print("no GPU here: running the --tiny smoke configuration; the 7B figures need a GPU (see README)")
        a.tiny = True
    a.device = "cpu" if a.tiny else "cuda"
    a.gen_tokens = a.gen_tokens or (16 if a.tiny else 256)
    a.prompts = a.prompts or (2 if a.tiny else 32)
    a.grpo_prompts = a.grpo_prompts or (1 if a.tiny else 2)
    if a.no_full_ft:
        a.skip.append("full_ft")
    return a


def main(argv=None) -> dict:
    global CUDA
    from peft import LoraConfig, get_peft_model
    a = parse(argv)
    CUDA = rw.CUDA = sp.CUDA = a.device == "cuda"
    dims = TINY if a.tiny else SEVEN_B
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
           "trl_error": rw.TRL_ERROR, "dtype": "bf16" if CUDA else "fp32", "params": c,
           "lora_r": a.lora_r, "lora_params": sum(p.numel() for p in trainable),
           "build_s": round(time.perf_counter() - t0, 1), "frames": dims["frames"], "frame_side": dims["side"],
           "video_grid_thw": grid.tolist(), "video_tokens": int((batch["input_ids"] == hf.config.video_token_id).sum()),
           "sft_seq_tokens": seq, "sft_response_tokens": n_resp, "sft_model_tflop": round(sft_flops / 1e12, 2),
           "argv": sys.argv[1:] if argv is None else argv}
    cudnn = True
    if "sft" not in a.skip:
        res["vision_fwd_one_video_s"] = {"cudnn_sdpa": round(vision_time(hf, batch, True), 4),
                                         "no_cudnn_sdpa": round(vision_time(hf, batch, False), 4)}
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
        set_gc(hf, False)
        res["sft_lora_no_gc"] = bench_sft("lora, no gc (ours without checkpointing)", model, opt, batch, a.steps,
                                          sft_flops)
        set_gc(hf, True)
        for key, b in (("ratio_ours_vs_stock", "sft_stock"), ("ratio_ours_vs_no_gc", "sft_lora_no_gc")):
            res[key] = ratio(res["sft_lora_gc"], res[b], ("step_s", "tokens_per_s", "peak_gib"))
        fast = bench_sft_fast(model, hf, opt, batch, a, sft_flops)
        res["vision_fwd_one_video_s"]["fast_batched_sdpa"] = fast.pop("vision_fwd_fast_s", None)
        res.update(fast)
        for key, x, b in (("ratio_fast_vs_ours_gc", "sft_fast_lora_gc", "sft_lora_gc"),
                          ("ratio_fast_no_gc_vs_ours_no_gc", "sft_fast_lora_no_gc", "sft_lora_no_gc")):
            res[key] = ratio(res[x], res[b], ("step_s", "tokens_per_s", "mfu", "peak_gib"))
        del opt
        report(res, a, final=False)
    torch.backends.cuda.enable_cudnn_sdp(cudnn)
    if "compiled" not in a.skip:
        opt = torch.optim.AdamW(trainable, lr=1e-5, fused=CUDA)
        phase(res, "compiled", sp.bench_sft_compiled, model, hf, opt, batch, a, sft_flops)
        del opt
        report(res, a, final=False)
    prompt_ids, video = rl_prompt(proc, ex, frames)
    prompts = rw.distinct_prompts(prompt_ids, hf.config.vision_end_token_id, a.prompts)
    a.suppress = rw.suppress_ids(proc, hf)
    res["rl_prompt_tokens"] = len(prompt_ids)
    if "rollouts" not in a.skip:
        phase(res, "rollouts", bench_rollouts, model, hf, proc, prompts, video, a)
        report(res, a, final=False)
    if "grpo" not in a.skip:
        opt = torch.optim.AdamW(trainable, lr=5e-6, fused=CUDA)
        for key, fast in (("grpo_fast", True), ("grpo_hf", False)):
            phase(res, key, bench_grpo, model, hf, proc, ex, prompts[:a.grpo_prompts], video, opt, a, c, dims, fast)
            report(res, a, final=False)
        res["ratio_grpo_fast_vs_hf"] = ratio(res["grpo_fast"], res["grpo_hf"], ("step_s", "gen_s", "gen_tokens_per_s"))
        del opt
    del trainable
    if "full_ft" not in a.skip:
        g, ng = res.get("sft_fast_lora_gc", {}).get("peak_gib"), res.get("sft_fast_lora_no_gc", {}).get("peak_gib")
        per_layer = (ng - g) / len(hf.model.language_model.layers) if g and ng else 1.2  # GiB of activations
        phase(res, "full_ft", bench_full_ft, model, batch, a, sft_flops, per_layer)
        for k, v in res["full_ft"].items():
            if isinstance(v, dict) and "sft_lora_gc" in res:
                v["vs_lora_gc"] = ratio(v, res["sft_lora_gc"], ("tokens_per_s", "mfu", "peak_gib"))
        ff = res["full_ft"]
        for k, b in (("fast_gc", "gc"), ("fast_gc_accum4", "gc_accum4"), ("fast_fit_accum4", "gc_accum4"),
                     ("compiled_fit", "fast_fit"), ("compiled_fit_accum4", "fast_fit_accum4")):
            if isinstance(ff.get(k), dict) and isinstance(ff.get(b), dict):
                ff[k]["vs_" + b] = ratio(ff[k], ff[b], ("step_s", "tokens_per_s", "mfu", "peak_gib"))
    report(res, a)
    return res


def report(res: dict, a, final: bool = True) -> None:
    """Print the figures (final only) and write them, with the raw JSON, to --out / $OUT (also after each phase)."""
    c, dump = res["params"], lambda d: json.dumps({k: v for k, v in d.items() if k != "name"})  # noqa: E731
    lines = [f"bench_train_gpu  device={res['device']}  torch={res['torch']}  transformers={res['transformers']}  "
             f"trl={res['trl']}  {res['dtype']}  tiny={a.tiny}  argv={' '.join(res['argv'])}",
             f"  params {c['total'] / 1e9:.3f} B (LM layers {c['lm_layers'] / 1e9:.3f}, lm_head {c['lm_head'] / 1e9:.3f},"
             f" vision {(c['vis_blocks'] + c['vis_merger']) / 1e9:.3f}); LoRA r={res['lora_r']}: "
             f"{res['lora_params'] / 1e6:.1f} M trainable; built in {res['build_s']} s",
             f"  video {res['frames']} frames {res['frame_side']}px, grid_thw {res['video_grid_thw']} -> "
             f"{res['video_tokens']} tokens; SFT sequence {res['sft_seq_tokens']} tokens, {res['sft_response_tokens']} "
             f"in the loss; model FLOPs/step {res['sft_model_tflop']} T; vision tower fwd (1 video) s: "
             f"{res.get('vision_fwd_one_video_s')}"]
    if res["trl_error"]:
        lines.append(f"  trl not importable ({res['trl_error']}): passes written directly, same math")
    lines += [f"  SFT {res[k]['name']}: " + dump(res[k]) for k in ("sft_stock", "sft_lora_gc", "sft_lora_no_gc",
                                                                   "sft_fast_lora_gc", "sft_fast_lora_no_gc")
              if k in res]
    if "fast_loss_check" in res:
        lines.append(f"  fast path: {res['n_patched']} vision attention modules patched; loss before the first step, "
                     f"stock vs fast: {json.dumps(res['fast_loss_check'])}")
    for key, what in (("ratio_ours_vs_stock", "ours / stock setup"),
                      ("ratio_ours_vs_no_gc", "ours / ours without checkpointing"),
                      ("ratio_fast_vs_ours_gc", "fast LoRA+gc / ours LoRA+gc"),
                      ("ratio_fast_no_gc_vs_ours_no_gc", "fast LoRA no gc / ours LoRA no gc")):
        if key in res:
            lines.append(f"  RATIO {what}, same run: " + json.dumps(res[key]))
    ro = res.get("rollouts", {})
    if ro:
        lines.append(f"  ROLLOUTS ({res['rl_prompt_tokens']} prompt tokens, {a.generations} rollouts per prompt, "
                     f"{a.gen_tokens} new tokens): HBM copy {ro.get('hbm_copy_tb_per_s')} TB/s, bf16 matmul "
                     f"{ro.get('matmul_bf16_tflops')} TFLOP/s; check {json.dumps(ro.get('logp_check'))}")
        for k in ("hf_1x8", "fast_1x8", "fast_paper"):
            if k in ro:
                lines.append(f"    {ro[k]['name']}: " + dump(ro[k]))
        if "error" in ro or "oom" in ro:
            lines.append("    ROLLOUTS FAILED: " + json.dumps(ro))
    for k in ("grpo_fast", "grpo_hf"):
        if k in res:
            lines.append(f"  GRPO step ({res[k].get('generation', k)}): " + dump(res[k]))
    if "ratio_grpo_fast_vs_hf" in res:
        lines.append("  RATIO GRPO step fast / HF generate, same run: " + json.dumps(res["ratio_grpo_fast_vs_hf"]))
    for k, v in res.get("compiled", {}).items():
        if isinstance(v, dict) and "name" in v:
            lines.append(f"  SFT {v['name']}: " + dump(v))
        else:
            lines.append(f"  compiled {k}: {json.dumps(v)}")
    for k, v in res.get("full_ft", {}).items():
        if isinstance(v, dict):
            lines.append(f"  SFT {v.get('name', k)}: " + dump(v))
        elif k != "trainable_params":
            lines.append(f"  full_ft {k}: {v}")
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
