"""The SFT phases of bench_train_gpu.py (the timing helpers it shares with the other phases): the baselines, the fast
configuration (train.fast_vision's batched vision attention, checkpointing of the LM decoder layers only, the LM
head on the scored tokens) and full fine-tuning of the LM with BF16AdamW. FLOPs and MFU as in bench_train_gpu's
docstring; `CUDA` is set by its main."""
from __future__ import annotations

import gc
import time

import numpy as np
import torch
from rollout_workload import TRL, amp, set_gc
from train_workload import BF16AdamW, scored_loss, set_lm_gc

from train.fast_vision import patch_vision, unpatch_vision

HOPPER_BF16_DENSE = 989e12
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


def ratio(x, y, keys) -> dict:
    return {k: round(x[k] / y[k], 3) for k in keys if x.get(k) and y.get(k)}


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
def sft_loss(model, batch: dict, scored: bool = False):
    """scored: the LM head on the scored positions only (TRL's fused head does that already; the fast configs)."""
    with amp():
        if TRL:  # TRL SFTTrainer.compute_loss (loss_type nll)
            out = model(**batch, use_cache=False, fused_lm_head=True)
            return (-out.log_probs).sum() / out.label_mask.sum().clamp(min=1)
        return scored_loss(model, batch) if scored else model(**batch, use_cache=False).loss


def bench_sft(name: str, model, opt, batch: dict, steps: int, flops: float, accum: int = 1,
              scored: bool = False) -> dict:
    """Median of `steps` timed optimizer steps (each `accum` forward/backward micro-batches) after one warm-up."""
    reset_peak()
    times, loss, params = [], None, [p for g in opt.param_groups for p in g["params"]]
    try:
        for s in range(steps + 1):
            t0 = now()
            for _ in range(accum):
                loss = sft_loss(model, batch, scored)
                (loss / accum).backward()
            with_grad = sum(p.grad is not None for p in params) / len(params)
            t1 = now()
            opt.step()
            opt.zero_grad(set_to_none=True)
            if s:
                times.append((now() - t0, now() - t1))
    except torch.OutOfMemoryError as exc:
        opt.zero_grad(set_to_none=True)
        return {"name": name, "oom": str(exc).splitlines()[0][:160], "peak_gib": peak_gib()}
    step, tokens = float(np.median([t for t, _ in times])), accum * int(batch["attention_mask"].sum())
    return {"name": name, "step_s": round(step, 4), "opt_step_s": round(float(np.median([o for _, o in times])), 4),
            "accum": accum, "tokens": tokens, "tokens_per_s": round(tokens / step, 1),
            "tflops_per_s": round(accum * flops / step / 1e12, 1), "mfu": mfu(accum * flops, step),
            "peak_gib": peak_gib(), "loss": round(loss.item(), 4), "params_with_grad": round(with_grad, 3),
            "steps_timed": len(times)}


def bench_sft_fast(model, hf, opt, batch: dict, a, flops: float) -> dict:
    """LoRA with the vision attention batched (train.fast_vision), checkpointing of the LM decoder layers only and
    the LM head on the scored tokens; with and without checkpointing. FLOPs counted as for every configuration."""
    out = {}
    with torch.no_grad():
        out["fast_loss_check"] = {"stock": round(sft_loss(model, batch).item(), 5)}
        out["n_patched"] = patch_vision(hf)
        out["fast_loss_check"]["fast"] = round(sft_loss(model, batch, scored=True).item(), 5)
    try:
        out["vision_fwd_fast_s"] = round(vision_time(hf, batch, torch.backends.cuda.cudnn_sdp_enabled()), 4)
        set_lm_gc(hf, len(hf.model.language_model.layers))
        out["sft_fast_lora_gc"] = bench_sft("lora + LM-only gc, batched vision attention, head on scored tokens",
                                            model, opt, batch, a.steps, flops, scored=True)
        set_lm_gc(hf, 0)
        out["sft_fast_lora_no_gc"] = bench_sft("lora, no gc, batched vision attention, head on scored tokens",
                                               model, opt, batch, a.steps, flops, scored=True)
    finally:
        unpatch_vision(hf)
        set_gc(hf, True)
    return out


def bench_fitted_gc(name: str, base, opt, batch: dict, a, flops: float, accum: int, peak_all_gc, per_layer) -> dict:
    """The fewest checkpointed LM layers that fit this GPU: start from the memory estimate (peak with every layer
    checkpointed + activations per un-checkpointed layer), checkpoint 4 more after each out-of-memory."""
    n, tried = len(base.model.language_model.layers), []
    k = 0
    if CUDA and peak_all_gc:
        free = torch.cuda.get_device_properties(0).total_memory / 2**30 - peak_all_gc - 3.0
        k = min(n, max(0, n - int(free / per_layer)))
    while True:
        set_lm_gc(base, k)
        r = bench_sft(f"{name}, gc on {k}/{n} LM layers", base, opt, batch, a.steps, flops, accum, scored=True)
        if "oom" not in r or k >= n:
            return r | {"gc_layers": k, "oom_at_gc_layers": tried}
        tried.append(k)
        k = min(n, k + 4)


def bench_full_ft(model, batch, a, flops, per_layer: float) -> dict:
    """SFT of the whole LM (vision tower frozen) with BF16AdamW; with and without checkpointing; and 4 micro-batches
    per optimizer step. Then the fast configuration (bench_sft_fast) with all LM layers checkpointed and with as few
    as fit (bench_fitted_gc), at 1 and 4 micro-batches per step."""
    base = model.unload()
    for n, p in base.named_parameters():
        p.requires_grad_(".visual." not in f".{n}")
    params = [p for p in base.parameters() if p.requires_grad]
    opt = BF16AdamW(params, lr=1e-5, compile=CUDA)
    out = {"trainable_params": sum(p.numel() for p in params)}
    for key, name, on, accum in (("gc", "full LM, BF16AdamW, gc", True, 1),
                                 ("no_gc", "full LM, BF16AdamW, no gc", False, 1),
                                 ("no_gc_accum4", "full LM, BF16AdamW, no gc, 4 micro-batches/step", False, 4),
                                 ("gc_accum4", "full LM, BF16AdamW, gc, 4 micro-batches/step", True, 4)):
        if key == "no_gc_accum4" and "oom" in out["no_gc"]:
            continue  # a single micro-batch did not fit
        set_gc(base, on)
        out[key] = bench_sft(name, base, opt, batch, a.steps, flops, accum)
    patch_vision(base)
    n = len(base.model.language_model.layers)
    fast = "full LM, BF16AdamW, batched vision attention, head on scored tokens"
    for accum, tag in ((1, ""), (4, "_accum4")):
        set_lm_gc(base, n)
        out["fast_gc" + tag] = bench_sft(f"{fast}, LM-only gc, {accum} micro-batch(es)/step", base, opt, batch, a.steps,
                                         flops, accum, scored=True)
        out["fast_fit" + tag] = bench_fitted_gc(f"{fast}, {accum} micro-batch(es)/step", base, opt, batch, a, flops,
                                                accum, out["fast_gc" + tag].get("peak_gib"), per_layer)
    from train.fast_compile import compile_blocks, uncompile_blocks
    base.config.use_cache = False
    compile_blocks(base)
    for accum, tag in ((1, ""), (4, "_accum4")):
        set_lm_gc(base, n)
        gc_all = bench_sft(f"{fast}, blocks compiled, LM-only gc, {accum} micro-batch(es)/step", base, opt, batch,
                           a.steps, flops, accum, scored=True)
        out["compiled_fit" + tag] = bench_fitted_gc(f"{fast}, blocks compiled, {accum} micro-batch(es)/step", base,
                                                    opt, batch, a, flops, accum, gc_all.get("peak_gib"), per_layer)
    uncompile_blocks(base)
    unpatch_vision(base)
    out["optimizer_compiled"] = opt.compiled
    return out


# ---- compiled blocks (train.fast_compile) ----------------------------------------------------------------------
def kernel_profile(fn, top: int = 12) -> dict:
    """CUDA kernel time of one call of `fn`, by kind (GEMM, attention, the rest: elementwise, norms, copies) and the
    top kernels: where a step's time goes, to read beside its MFU."""
    from torch.profiler import ProfilerActivity, profile
    if not CUDA:
        return {}
    with profile(activities=[ProfilerActivity.CUDA]) as prof:
        fn()
        torch.cuda.synchronize()
    rows = [(e.key, e.self_device_time_total / 1e3, e.count) for e in prof.key_averages() if e.self_device_time_total > 0]
    kinds = {"gemm": ("gemm", "cutlass", "nvjet", "xmma", "cublas", "matmul"),
             "attention": ("flash", "fmha", "attention", "sdpa", "cudnn")}
    by = {"gemm": 0.0, "attention": 0.0, "other": 0.0}
    for name, ms, _ in rows:
        low = name.lower()
        by[next((k for k, pats in kinds.items() if any(p in low for p in pats)), "other")] += ms
    rows.sort(key=lambda r: -r[1])
    return {"kernel_ms": {k: round(v, 1) for k, v in by.items()}, "total_ms": round(sum(by.values()), 1),
            "top": [(n[:90], round(ms, 2), c) for n, ms, c in rows[:top]]}


def sft_step(model, opt, batch: dict) -> None:
    sft_loss(model, batch, scored=True).backward()
    opt.step()
    opt.zero_grad(set_to_none=True)


def bench_sft_compiled(model, hf, opt, batch: dict, a, flops: float) -> dict:
    """The fast LoRA step (train.fast_vision, LM head on scored tokens) with train.fast_compile's compiled blocks:
    vision blocks only, then LM layers too; no checkpointing, and with every LM layer checkpointed. The eager fast
    step is re-measured here as the same-run baseline. Kernel profiles of the eager and the compiled step."""
    from train.fast_compile import compile_blocks, uncompile_blocks
    out, n = {}, len(hf.model.language_model.layers)
    hf.config.use_cache = False
    patch_vision(hf)
    try:
        set_lm_gc(hf, 0)
        out["vision_fwd_eager_s"] = round(vision_time(hf, batch, torch.backends.cuda.cudnn_sdp_enabled()), 4)
        out["eager_no_gc"] = bench_sft("lora, no gc, fast vision, eager (baseline)", model, opt, batch, a.steps,
                                       flops, scored=True)
        out["profile_eager"] = kernel_profile(lambda: sft_step(model, opt, batch))
        t0 = now()
        out["compiled"] = compile_blocks(hf, kinds=("vision",))
        out["vision_fwd_compiled_s"] = round(vision_time(hf, batch, torch.backends.cuda.cudnn_sdp_enabled()), 4)
        out["vision_compile_s"] = round(now() - t0 - out["vision_fwd_compiled_s"], 1)
        out["vision_compiled_no_gc"] = bench_sft("lora, no gc, fast vision, vision blocks compiled", model, opt,
                                                 batch, a.steps, flops, scored=True)
        out["compiled"] = compile_blocks(hf)
        t0 = now()
        sft_step(model, opt, batch)
        out["lm_compile_first_step_s"] = round(now() - t0, 1)
        out["compiled_no_gc"] = bench_sft("lora, no gc, fast vision, LM layers + vision blocks compiled", model, opt,
                                          batch, a.steps, flops, scored=True)
        out["profile_compiled"] = kernel_profile(lambda: sft_step(model, opt, batch))
        set_lm_gc(hf, n)
        out["compiled_gc"] = bench_sft("lora, LM-only gc, fast vision, LM layers + vision blocks compiled", model, opt,
                                       batch, a.steps, flops, scored=True)
    finally:
        uncompile_blocks(hf)
        unpatch_vision(hf)
        set_gc(hf, True)
    for k in ("vision_compiled_no_gc", "compiled_no_gc"):
        out[f"ratio_{k}_vs_eager"] = ratio(out[k], out["eager_no_gc"], ("step_s", "tokens_per_s", "mfu", "peak_gib"))
    return out
