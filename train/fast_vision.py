"""Qwen2.5-VL (and Qwen2-VL / Qwen3-VL) vision attention as one batched SDPA call per layer.

Why: without flash-attn, transformers' SDPA path splits q/k/v at every `cu_seqlens` boundary and calls SDPA once per
segment. At 128 frames (64 temporal groups x 16x16 patches) that is 256 windows of 64 patches in each of the 28
window layers and 64 frames of 256 patches in each of the 4 full-attention layers: ~7,400 tiny kernels per video,
~0.47 s of a 1.2 s SFT step on an H100 for ~25 TFLOP of work. After the window permutation the segments are contiguous
and (for grids that split into whole windows) equal-sized, so the sequence is reshaped to (segments, heads, length,
dim) and attended in one call; segments of other lengths (edge windows of odd grids) form one batch per length.
Same math as the stock forward (checked against it in tests/integration/test_fast_vision.py) and differentiable, so
it is safe for a trained tower too; for the frozen tower (the paper's recipe) run it under `torch.no_grad()`.

    from train.fast_vision import patch_vision
    patch_vision(model)   # -> number of attention modules patched; 0 for a model without such a tower

`VIDEOKR_FAST_VISION=0` turns `patch_vision` into a no-op (the stock forward, e.g. to compare).
"""
from __future__ import annotations

import os
import sys
import types

import torch
import torch.nn.functional as F

_PLANS: list[tuple[torch.Tensor, list]] = []  # (cu_seqlens tensor, plan): the last few, matched by identity


def _plan(cu_seqlens: torch.Tensor) -> list[tuple[int, torch.Tensor | None]]:
    """[(length, token index or None)]: one entry per distinct segment length; None = the whole sequence is segments
    of that one length in order (a plain reshape). Cached per cu_seqlens tensor: all layers of one forward share it,
    so the host sync (`tolist`, as the stock path does per layer) happens once per forward."""
    for t, plan in _PLANS:
        if t is cu_seqlens:
            return plan
    bounds = cu_seqlens.tolist()
    lengths = [b - a for a, b in zip(bounds, bounds[1:]) if b > a]
    if len(set(lengths)) == 1:
        plan = [(lengths[0], None)]
    else:
        groups: dict[int, list[int]] = {}
        for a, b in zip(bounds, bounds[1:]):
            if b > a:
                groups.setdefault(b - a, []).extend(range(a, b))
        plan = [(n, torch.tensor(idx, device=cu_seqlens.device)) for n, idx in groups.items()]
    _PLANS.insert(0, (cu_seqlens, plan))
    del _PLANS[4:]
    return plan


@torch.compiler.disable  # the plan's host sync and Python grouping stay eager when the blocks around are compiled
def segment_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, cu_seqlens: torch.Tensor,
                      scale: float) -> torch.Tensor:
    """Bidirectional attention within each cu_seqlens segment. q, k, v: (tokens, heads, dim) -> (tokens, heads, dim)."""
    heads, dim = q.shape[1:]
    outs, order = [], []
    for n, idx in _plan(cu_seqlens):
        qs, ks, vs = ((x if idx is None else x.index_select(0, idx)).reshape(-1, n, heads, dim).transpose(1, 2)
                      for x in (q, k, v))
        o = F.scaled_dot_product_attention(qs, ks, vs, scale=scale)
        outs.append(o.transpose(1, 2).reshape(-1, heads, dim))
        order.append(idx)
    if order[0] is None:
        return outs[0]
    inverse = torch.argsort(torch.cat(order))
    return torch.cat(outs).index_select(0, inverse)


def _forward(self, hidden_states: torch.Tensor, cu_seqlens: torch.Tensor, rotary_pos_emb=None,
             position_embeddings=None, **kwargs) -> torch.Tensor:
    if self.config._attn_implementation != "sdpa" or position_embeddings is None:
        extra = {"rotary_pos_emb": rotary_pos_emb} if rotary_pos_emb is not None else {}
        return self._stock_forward(hidden_states, cu_seqlens, position_embeddings=position_embeddings, **extra,
                                   **kwargs)
    seq = hidden_states.shape[0]
    q, k, v = self.qkv(hidden_states).reshape(seq, 3, self.num_heads, -1).permute(1, 0, 2, 3).unbind(0)
    cos, sin = position_embeddings
    q, k = sys.modules[type(self).__module__].apply_rotary_pos_emb_vision(q, k, cos, sin)
    out = segment_attention(q, k, v, cu_seqlens, self.scaling)
    return self.proj(out.reshape(seq, -1))


def _patch_embed(self, hidden_states: torch.Tensor) -> torch.Tensor:
    """The patch embedding's Conv3d has kernel == stride == the whole patch, so it is one matmul over the flattened
    (channel, time, row, col) patch, which is the weight's own memory order: same math, one GEMM instead of cuDNN's
    3-D convolution (slow for 16,384 single-position outputs)."""
    w = self.proj.weight
    out = F.linear(hidden_states.reshape(-1, w[0].numel()).to(w.dtype), w.reshape(w.size(0), -1), self.proj.bias)
    return out.view(-1, w.size(0))


def _patchable_embed(m: torch.nn.Module) -> bool:
    conv = getattr(m, "proj", None)
    return (type(m).__name__.endswith("VisionPatchEmbed") and isinstance(conv, torch.nn.Conv3d)
            and tuple(conv.kernel_size) == tuple(conv.stride) and conv.padding in ((0, 0, 0), "valid")
            and conv.groups == 1 and tuple(conv.dilation) == (1, 1, 1))


def _patchable(m: torch.nn.Module) -> bool:
    mod = sys.modules.get(type(m).__module__)
    return (type(m).__name__.endswith("VisionAttention") and hasattr(mod, "apply_rotary_pos_emb_vision")
            and all(hasattr(m, a) for a in ("qkv", "proj", "num_heads", "scaling", "config")))


def patch_vision(model: torch.nn.Module) -> int:
    """Route every Qwen-VL vision attention module of `model` through the batched path, and its patch embedding
    through one matmul (idempotent). Returns the number of attention modules patched."""
    if os.environ.get("VIDEOKR_FAST_VISION", "1") == "0":
        return 0
    n = 0
    for m in model.modules():
        fast = _forward if _patchable(m) else _patch_embed if _patchable_embed(m) else None
        if fast is not None:
            if "_stock_forward" not in m.__dict__:
                m._stock_forward = m.forward
                m.forward = types.MethodType(fast, m)
            n += fast is _forward
    return n


def unpatch_vision(model: torch.nn.Module) -> int:
    """Restore the stock forwards (for comparisons). Returns the number of attention modules restored."""
    n = 0
    for m in model.modules():
        if "_stock_forward" in m.__dict__:
            m.forward = m.__dict__.pop("_stock_forward")
            n += _patchable(m)
    return n
