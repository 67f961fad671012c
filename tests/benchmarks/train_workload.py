"""The benchmark's workload: the 7B-class and tiny Qwen2.5-VL dims, model and processor, synthetic video inputs
shaped as the project's collators build them, and the model-FLOP accounting behind MFU (see bench_train_gpu.py)."""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from train.collate import pad_batch, split_template  # noqa: E402
from train.data import Example, Frames, prompt_messages, target_text, video_inputs  # noqa: E402
from train.tiny import QWEN_CHAT_TEMPLATE, _ids, build_tokenizer  # noqa: E402

PER_VIDEO = ("pixel_values_videos", "video_grid_thw", "second_per_grid_ts")  # as train.video_grpo.PER_VIDEO

SEVEN_B = {"text": dict(vocab_size=152064, hidden_size=3584, intermediate_size=18944, num_hidden_layers=28,
                        num_attention_heads=28, num_key_value_heads=4, max_position_embeddings=32768,
                        rms_norm_eps=1e-6, rope_parameters={"rope_type": "default", "rope_theta": 1e6,
                                                            "mrope_section": [16, 24, 24]}),
           "vision": dict(depth=32, hidden_size=1280, intermediate_size=3420, num_heads=16, out_hidden_size=3584,
                          patch_size=14, spatial_merge_size=2, temporal_patch_size=2, window_size=112,
                          fullatt_block_indexes=[7, 15, 23, 31], tokens_per_second=2),
           "frames": 128, "side": 224, "prompt_tokens": 200, "response_tokens": 300}
TINY = {"text": dict(vocab_size=512, hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
                     num_key_value_heads=2, max_position_embeddings=4096, rope_parameters={
                         "rope_type": "default", "rope_theta": 10000.0, "mrope_section": [4, 2, 2]}),
        "vision": dict(depth=2, hidden_size=32, intermediate_size=64, num_heads=2, out_hidden_size=64, patch_size=14,
                       spatial_merge_size=2, temporal_patch_size=2, window_size=56, fullatt_block_indexes=[1]),
        "frames": 8, "side": 56, "prompt_tokens": 40, "response_tokens": 30}
LORA_TARGETS = r".*language_model\.layers\.\d+\.(self_attn\.(q|k|v|o)_proj|mlp\.(gate|up|down)_proj)"


# ---- model, processor, inputs ---------------------------------------------------------------------------------
def build(dims: dict, device: str, dtype):
    from transformers import (Qwen2_5_VLConfig, Qwen2_5_VLForConditionalGeneration, Qwen2_5_VLProcessor,
                              Qwen2VLImageProcessor, Qwen2VLVideoProcessor)
    tok = build_tokenizer()
    i = _ids(tok)
    cfg = Qwen2_5_VLConfig(text_config=dict(dims["text"], bos_token_id=i["pad"], eos_token_id=i["eos"],
                                            pad_token_id=i["pad"]),
                           vision_config=dims["vision"], tie_word_embeddings=False,
                           image_token_id=i["image_token_id"], video_token_id=i["video_token_id"],
                           vision_start_token_id=i["vision_start_token_id"], vision_end_token_id=i["vision_end_token_id"])
    torch.manual_seed(0)
    with torch.device(device):
        model = Qwen2_5_VLForConditionalGeneration._from_config(cfg, dtype=dtype, attn_implementation="sdpa")
    model.generation_config.eos_token_id, model.generation_config.pad_token_id = i["eos"], i["pad"]
    model.generation_config.bos_token_id = None
    side, n = dims["side"], dims["frames"]
    size = {"shortest_edge": 28 * 28, "longest_edge": side * side * n}
    proc = Qwen2_5_VLProcessor(image_processor=Qwen2VLImageProcessor(size=size),
                               video_processor=Qwen2VLVideoProcessor(size=size, cap_pixels_per_frame=False),
                               tokenizer=tok, chat_template=QWEN_CHAT_TEMPLATE)
    return model, proc


def synthetic_frames(n: int, side: int, seed: int = 0) -> Frames:
    arr = np.random.default_rng(seed).integers(0, 256, size=(n, side, side, 3), dtype=np.uint8)
    return Frames("synthetic", "0" * 64, [i / 2.0 for i in range(n)], arr, fps=2.0, total_num_frames=n,
                  duration_s=n / 2.0)


def _text_of(tok, n_tokens: int, seed: str) -> str:
    words = (seed + " ") * (n_tokens // 2 + 8)
    return tok.decode(tok(words, add_special_tokens=False)["input_ids"][:n_tokens]).strip()


def example(tok, prompt_tokens: int, response_tokens: int) -> Example:
    """A multiple-choice VideoKR example whose user text is ~prompt_tokens and SFT response ~response_tokens."""
    opts = ["A. bubble sort", "B. merge sort", "C. quick sort", "D. heap sort"]
    base = Example("bench", "multiple choice", "", opts, "<answer>B</answer>", "", think="")
    fixed = len(tok(prompt_messages(base)[0]["content"][1]["text"], add_special_tokens=False)["input_ids"])
    q = _text_of(tok, max(1, prompt_tokens - fixed), "Which algorithm is shown? The array is split and merged.")
    seed, n = "The frames show the array being split and merged.", response_tokens
    for _ in range(3):  # the tags and answer cost some tokens: correct the rationale's length twice
        ex = Example("bench", "multiple choice", q, opts, "<answer>B</answer>", "", think=_text_of(tok, n, seed))
        n += response_tokens - len(tok(target_text(ex), add_special_tokens=False)["input_ids"])
    return ex


def sft_batch(proc, ex: Example, frames: Frames) -> dict:
    """As train.collate.VideoSFTCollator.encode + pad_batch, with synthetic frames instead of a decoded file."""
    prompt, response = split_template(proc, prompt_messages(ex), target_text(ex))
    enc = video_inputs(proc, [prompt], [frames])
    p = enc["input_ids"][0]
    r = torch.tensor(proc.tokenizer(response, add_special_tokens=False)["input_ids"], dtype=p.dtype)
    item = {"input_ids": torch.cat([p, r]), "labels": torch.cat([torch.full_like(p, -100), r]),
            "mm_token_type_ids": torch.cat([torch.as_tensor(enc["mm_token_type_ids"])[0], r.new_zeros(r.numel())])}
    item.update({k: torch.as_tensor(enc[k]) for k in PER_VIDEO if k in enc})
    return pad_batch([item], proc.tokenizer.pad_token_id)


def rl_prompt(proc, ex: Example, frames: Frames) -> tuple[list[int], dict]:
    """As VideoGRPOTrainer._encode_prompt: generation prompt ids and that video's tensors."""
    text = proc.apply_chat_template(prompt_messages(ex), add_generation_prompt=True, tokenize=False)
    enc = video_inputs(proc, [text], [frames])
    video = {k: enc[k] for k in PER_VIDEO if k in enc}
    if "second_per_grid_ts" in video:
        video["second_per_grid_ts"] = torch.as_tensor(video["second_per_grid_ts"], dtype=torch.float32)
    return enc["input_ids"][0].tolist(), video


# ---- the SFT step's fast configuration -------------------------------------------------------------------------
def scored_loss(model, batch: dict) -> torch.Tensor:
    """Mean next-token NLL over the response, with the LM head run only on the positions that predict a scored token
    (`logits_to_keep`), as TRL's fused LM head does and as lm_flops counts it (2*N_head*T_loss), instead of over all
    T positions (full fp32 logits: 4,628 x 152,064 at 128 frames). Same loss as model(**batch).loss."""
    labels = batch["labels"]
    first = int((labels != -100).any(0).nonzero()[0])
    keep = labels.size(1) - first + 1
    out = model(**{k: v for k, v in batch.items() if k != "labels"}, use_cache=False, logits_to_keep=keep)
    logits = out.logits[:, :-1].float()
    return torch.nn.functional.cross_entropy(logits.reshape(-1, logits.size(-1)), labels[:, first:].reshape(-1),
                                             ignore_index=-100)


def set_lm_gc(hf, n_checkpointed: int) -> None:
    """Non-reentrant checkpointing of the first `n_checkpointed` LM decoder layers only (the rest keep activations:
    less recompute where memory allows); never the frozen vision tower's blocks, which nothing back-propagates."""
    hf.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    hf.disable_input_require_grads()
    for i, layer in enumerate(hf.model.language_model.layers):
        layer.gradient_checkpointing = i < n_checkpointed
    for blk in hf.model.visual.blocks:
        blk.gradient_checkpointing = False


# ---- FLOPs -----------------------------------------------------------------------------------------------------
def counts(model) -> dict:
    inner = model.model
    n = lambda m: sum(p.numel() for p in m.parameters())  # noqa: E731
    return {"lm_layers": n(inner.language_model.layers), "lm_head": model.lm_head.weight.numel(),
            "embed": inner.language_model.embed_tokens.weight.numel(), "vis_blocks": n(inner.visual.blocks)
            + n(inner.visual.patch_embed), "vis_merger": n(inner.visual.merger), "total": n(model)}


def lm_flops(c: dict, tc: dict, seq_lens: list[int], head_tokens: int, k: int) -> float:
    dense = 2 * c["lm_layers"] * sum(seq_lens) + 2 * c["lm_head"] * head_tokens
    attn = sum(2 * tc["num_hidden_layers"] * tc["hidden_size"] * t * t for t in seq_lens)
    return k * (dense + attn)


def vision_flops(c: dict, vc: dict, grid_thw: torch.Tensor) -> float:
    total = 0.0
    win = (vc["window_size"] // vc["patch_size"]) ** 2
    for t, h, w in grid_thw.tolist():
        p = t * h * w
        blocks = [h * w if i in vc["fullatt_block_indexes"] else min(win, h * w) for i in range(vc["depth"])]
        total += 2 * c["vis_blocks"] * p + 2 * c["vis_merger"] * p / 4 + sum(4 * p * b * vc["hidden_size"]
                                                                              for b in blocks)
    return total


# ---- full fine-tuning optimizer --------------------------------------------------------------------------------
def _sr_adamw(p, g, m, v, lr, b1, b2, eps, wd, bc1, bc2):
    """One AdamW update of a flat bf16 chunk: fp32 math, bf16 moments, and the new weight stochastically rounded to
    bf16 (random low 16 bits added before truncation), so updates far below bf16's resolution still land on average."""
    g32 = g.float()
    m32 = m.float().lerp(g32, 1 - b1)
    v32 = v.float() * b2 + (1 - b2) * g32 * g32
    p32 = p.float() * (1 - lr * wd) - lr * (m32 / bc1) / ((v32 / bc2).sqrt() + eps)
    noise = (torch.rand_like(p32) * 65536).to(torch.int32)
    bits = (p32.view(torch.int32) + noise) & -65536
    return bits.view(torch.float32).to(torch.bfloat16), m32.to(torch.bfloat16), v32.to(torch.bfloat16)


class BF16AdamW(torch.optim.Optimizer):
    """AdamW for bf16 weights with bf16 moments and stochastic rounding: 4 B/param of state (+2 weights, +2 grads),
    so the whole 7.6 B-param LM trains on one GPU (~61 GB) with no fp32 master copy; stochastic rounding is what
    makes training without a master copy track fp32 (torchao's `bf16_stochastic_round`, Zamirai et al. 2020).
    The update is compiled into one fused kernel per chunk shape where torch.compile works (`compiled`)."""

    CHUNK = 1 << 26

    def __init__(self, params, lr=1e-5, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, compile=True):
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay))
        self.fn, self.compiled = _sr_adamw, False
        if compile:
            try:
                self.fn, self.compiled = torch.compile(_sr_adamw, dynamic=True, fullgraph=True), True
            except Exception:  # pragma: no cover - no compiler on this machine
                pass

    @torch.no_grad()
    def step(self):
        for group in self.param_groups:
            b1, b2 = group["betas"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                st = self.state[p]
                if not st:
                    st["t"], st["m"], st["v"] = 0, torch.zeros_like(p), torch.zeros_like(p)
                st["t"] += 1
                dev = p.device
                scal = [torch.tensor(x, device=dev) for x in (group["lr"], 1 - b1 ** st["t"], 1 - b2 ** st["t"])]
                for pc, gc, mc, vc in zip(*(x.view(-1).split(self.CHUNK) for x in (p, p.grad, st["m"], st["v"]))):
                    try:
                        np_, nm, nv = self.fn(pc, gc, mc, vc, scal[0], b1, b2, group["eps"], group["weight_decay"],
                                              scal[1], scal[2])
                    except Exception:  # compile failed at first use: run eagerly from now on
                        self.fn, self.compiled = _sr_adamw, False
                        np_, nm, nv = self.fn(pc, gc, mc, vc, scal[0], b1, b2, group["eps"], group["weight_decay"],
                                              scal[1], scal[2])
                    pc.copy_(np_)
                    mc.copy_(nm)
                    vc.copy_(nv)
