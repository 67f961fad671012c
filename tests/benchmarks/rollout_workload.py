"""The benchmark's rollout part (see bench_train_gpu.py): HF `generate` against train.rollout at the paper's GRPO shape
(prompts x 8 rollouts, 128 frames), the HBM bandwidth measured in the same run, and the memory-bandwidth bound of a
decode step (weights plus the KV cache it reads) for that shape."""
from __future__ import annotations

import contextlib
import time
import types

import torch

from train.rewards import videokr_reward
from train.rollout import FastRollout

try:  # the project's GRPO trainer and TRL's fused LM head (needs trl + datasets)
    from train.video_grpo import VideoGRPOTrainer, vision_token_ids
    TRL, TRL_ERROR = True, None
except ImportError as exc:  # pragma: no cover - only where trl cannot be installed (the GPU machine)
    TRL, TRL_ERROR = False, f"{type(exc).__name__}: {exc}"

CUDA = torch.cuda.is_available()


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


def suppress_ids(proc, hf) -> list[int]:
    return vision_token_ids(proc, hf) if TRL else [hf.config.video_token_id, hf.config.image_token_id,
                                                   hf.config.vision_start_token_id, hf.config.vision_end_token_id]


def now() -> float:
    if CUDA:
        torch.cuda.synchronize()
    return time.perf_counter()


def hbm_bandwidth(gib: int = 4, reps: int = 10) -> float | None:
    """Bytes/s of a device-to-device copy, counting bytes read plus written (the figure the bound divides by)."""
    if not CUDA:
        return None
    x = torch.empty(gib << 30, dtype=torch.uint8, device="cuda")
    y = torch.empty_like(x)
    y.copy_(x)
    t0 = now()
    for _ in range(reps):
        y.copy_(x)
    t = now() - t0
    del x, y
    return 2 * (gib << 30) * reps / t


def matmul_tflops(n: int = 8192, reps: int = 10) -> float | None:
    if not CUDA:
        return None
    a, b = (torch.randn(n, n, device="cuda", dtype=torch.bfloat16) for _ in range(2))
    a @ b
    t0 = now()
    for _ in range(reps):
        a @ b
    return 2 * n ** 3 * reps / (now() - t0) / 1e12


def distinct_prompts(ids: list[int], vision_end_id: int, n: int) -> list[list[int]]:
    """n prompts of the same length and video, each with its own first text token after the video, so no two share
    a prefix cache (the bench's video tensors are the same for all; their prefill still runs once per prompt)."""
    at = ids.index(vision_end_id) + 1
    pool = sorted({t for t in ids[at:] if t != vision_end_id})
    if len(pool) < n:
        pool = list(range(100, 100 + n))
    return [ids[:at] + [pool[i]] + ids[at + 1:] for i in range(n)]


def engine(model, hf, proc, suppress, temperature=1.0, cuda_graph=True):
    return FastRollout(model, [hf.generation_config.eos_token_id], proc.tokenizer.pad_token_id, suppress,
                       temperature=temperature, cuda_graph=cuda_graph, mm_token_type_ids=proc.create_mm_token_type_ids)


def fast_generate(model, hf, proc, prompts: list[list[int]], video: dict, g: int, max_new: int, suppress,
                  temperature=1.0, record=False):
    """Rows = each prompt x g rollouts; (sequences [rows, prompt + max_new] padded, seconds, Rollouts)."""
    rows = [p for p in prompts for _ in range(g)]
    model.eval()
    t0 = now()
    out = engine(model, hf, proc, suppress, temperature).generate(rows, [video] * len(rows), max_new, record)
    t = now() - t0
    model.train()
    pad = proc.tokenizer.pad_token_id
    seq = torch.tensor([r + t_ + [pad] * (max_new - len(t_)) for r, t_ in zip(rows, out.tokens)], device="cuda"
                       if CUDA else "cpu")
    return seq, t, out


def step_bytes(hf, prompt_lens: list[int], rows: int, steps: int) -> dict:
    """Bytes a decode step reads, averaged over `steps` steps: the weights once (LM layers, LoRA adapters, final
    norm, LM head; the embedding is a row gather), plus the KV cache: with prefix sharing each prompt's prefix once
    and each row's completion so far; without, every row's whole sequence (what HF generate reads)."""
    lm = hf.model.language_model
    w = sum(p.numel() * p.element_size() for p in lm.layers.parameters()) + sum(
        p.numel() * p.element_size() for p in lm.norm.parameters()) + hf.lm_head.weight.numel() * 2
    c = lm.config
    hd = getattr(c, "head_dim", None) or c.hidden_size // c.num_attention_heads
    per_tok = c.num_hidden_layers * 2 * c.num_key_value_heads * hd * 2
    avg_suffix = (steps + 1) / 2
    g = rows // len(prompt_lens)
    shared = per_tok * (sum(prompt_lens) + rows * avg_suffix)
    per_row = per_tok * (g * sum(prompt_lens) + rows * avg_suffix)
    return {"weights_gb": w / 1e9, "kv_shared_gb": shared / 1e9, "kv_per_row_gb": per_row / 1e9,
            "flops": 2 * rows * (sum(p.numel() for p in lm.layers.parameters()) + hf.lm_head.weight.numel())}


def bound(hf, prompt_lens, rows, steps, bw, tflops) -> dict:
    """Decode tokens/s at the bandwidth bound (bytes / measured copy bandwidth), with and without prefix sharing, and
    the roofline (the larger of the bandwidth time and the matmul time at the measured bf16 rate)."""
    b = step_bytes(hf, prompt_lens, rows, steps)
    t_shared = (b["weights_gb"] + b["kv_shared_gb"]) * 1e9 / bw
    t_row = (b["weights_gb"] + b["kv_per_row_gb"]) * 1e9 / bw
    t_mm = b["flops"] / (tflops * 1e12)
    return {**{k: round(v, 2) for k, v in b.items() if k != "flops"}, "step_tflop": round(b["flops"] / 1e12, 2),
            "bw_bound_tokens_per_s": round(rows / t_shared, 1),
            "bw_bound_no_sharing_tokens_per_s": round(rows / t_row, 1),
            "roofline_tokens_per_s": round(rows / max(t_shared, t_mm), 1)}


def summary(name: str, rows: int, max_new: int, t_total: float, prefill: float, decode_steps: int,
            decode_s: float) -> dict:
    return {"name": name, "rows": rows, "max_new_tokens": max_new, "total_s": round(t_total, 3),
            "prefill_s": round(prefill, 3), "decode_s": round(decode_s, 3),
            "rollout_tokens_per_s": round(rows * max_new / t_total, 1),
            "decode_tokens_per_s": round(rows * decode_steps / max(decode_s, 1e-9), 1)}


def logp_check(model, hf, proc, prompt: list[int], video: dict, suppress, scorer, n: int = 64) -> dict:
    """Sampled fast rollouts' generation-time log-probs against the model's own scoring of the same tokens (the
    trainer's log-prob pass): bf16 noise is ~1e-2; a wrong position, cache or mask shows as O(1)."""
    g = 4
    seq, _, out = fast_generate(model, hf, proc, [prompt], video, g, n, suppress, record=True)
    mask = torch.ones_like(seq)
    with torch.no_grad():
        ref = scorer.logps(model, seq, mask, n, g)
    gen = torch.tensor([lp + [0.0] * (n - len(lp)) for lp in out.logps], device=seq.device)
    valid = torch.tensor([[1] * len(t) + [0] * (n - len(t)) for t in out.tokens], device=seq.device).bool()
    d = (ref.float() - gen)[valid].abs()
    return {"tokens": int(valid.sum()), "max_abs_logp_diff": round(d.max().item(), 4),
            "mean_abs_logp_diff": round(d.mean().item(), 5), "attention": out.attention, "cuda_graph": out.cuda_graph}


# ---- the GRPO step ----------------------------------------------------------------------------------------------
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


def hf_generate(model, hf, proc, ids: torch.Tensor, videos: list[dict], max_new: int, suppress):
    """HF generate, sampled (temperature 1.0, no top-k/top-p), each row with its own video copy; (sequences, s)."""
    fields = {k: torch.cat([v[k] for v in videos]).to(ids.device) for k in videos[0]}
    mm = torch.tensor(proc.create_mm_token_type_ids(ids.tolist()), device=ids.device)
    t0 = now()
    model.eval()
    with torch.no_grad(), amp():
        seq = model.generate(input_ids=ids, attention_mask=torch.ones_like(ids), mm_token_type_ids=mm, **fields,
                             do_sample=True, temperature=1.0, top_k=0, top_p=1.0, max_new_tokens=max_new,
                             suppress_tokens=suppress, use_cache=True)
    model.train()
    return seq, now() - t0


def grpo_step(model, hf, proc, ex, prompts, video, opt, a, max_new: int, fast: bool) -> dict:
    """Rollouts of every prompt (g each), rewards, group-normalised advantages, reference and policy passes in
    micro-batches (each row with its own video), DAPO loss with k3 KL, one optimizer step."""
    dev, g, tok = a.device, a.generations, proc.tokenizer
    rows = [p for p in prompts for _ in range(g)]
    videos, ids = [video] * len(rows), torch.tensor(rows, device=dev)
    set_gc(hf, False)
    if fast:
        seq, t_gen, ro = fast_generate(model, hf, proc, prompts, video, g, max_new, a.suppress)
    else:
        seq, t_gen = hf_generate(model, hf, proc, ids, videos, max_new, a.suppress)
    set_gc(hf, True)
    comp = seq[:, ids.size(1):]
    eos = comp == hf.generation_config.eos_token_id
    first = torch.where(eos.any(1), eos.int().argmax(1), comp.size(1))
    cmask = (torch.arange(comp.size(1), device=dev)[None] <= first[:, None]).long()
    texts = [tok.decode([t for t in row.tolist() if t < len(tok)]) for row in comp]
    rewards = torch.tensor([videokr_reward(t, ex.solution, ex.problem_type) for t in texts], device=dev).view(-1, g)
    adv = ((rewards - rewards.mean(1, keepdim=True)) / (rewards.std(1, keepdim=True) + 1e-4)).view(-1)
    full, mask, keep = torch.cat([ids, comp], 1), torch.cat([torch.ones_like(ids), cmask], 1), comp.size(1)
    t1, t_ref, n_items, loss_sum, mb = now(), 0.0, cmask.sum(), 0.0, a.micro_batch
    for s in range(0, len(rows), mb):  # per-device micro-batches (gradient accumulation inside one optimizer step)
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
    t2 = now()
    opt.step()
    opt.zero_grad(set_to_none=True)
    t3 = now()
    return {"gen_s": t_gen, "train_s": t3 - t1, "ref_s": t_ref, "opt_s": t3 - t2, "new_tokens": int(cmask.sum()),
            "loss": loss_sum, "seq_lens": [int(x) for x in mask.sum(1)], "reward_mean": float(rewards.mean())}
