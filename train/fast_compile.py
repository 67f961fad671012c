"""Compile a video-language model's repeated blocks (LM decoder layers, vision blocks) one by one with torch.compile.

Why per block: what is left of an SFT step after the batched vision attention (train.fast_vision) is mostly the GEMMs
plus the many small memory-bound kernels between them (RMSNorm in fp32, rotary, SiLU-gate, residual adds, LoRA's
scale-and-add), and the frozen vision tower runs at a fraction of the GPU's rate because its 1,280-wide blocks are
dominated by those. Inductor fuses them. Compiling whole blocks, not the model, keeps the parts that do not trace
(the video processor's grid bookkeeping, the segment plan's host sync, TRL's fused head) eager, and with
`inline_inbuilt_nn_modules` all blocks of one kind share one compiled graph (parameters are graph inputs), so the
compile costs one block per kind, not 28 + 32. A checkpointed block cannot be traced whole (transformers runs its
forward through `checkpoint(partial(...))`, a graph break), so each block's direct children (attention, MLP, norms)
are compiled too: inlined into the block's graph when it traces, run as fused pieces inside the checkpoint when not. The math is the stock forward's (tests/integration/test_fast_compile.py checks loss and
gradients); only the floating-point rounding order of fused kernels differs.

    from train.fast_compile import compile_blocks
    compile_blocks(model)        # -> {"lm": 28, "vision": 32}; no-op where torch.compile is unavailable
"""
from __future__ import annotations

import logging

import torch

log = logging.getLogger("videokr.train")


def _blocks(model: torch.nn.Module) -> dict[str, list[torch.nn.Module]]:
    """The model's repeated blocks by kind: every ModuleList whose children all share one class."""
    found: dict[str, list[torch.nn.Module]] = {"lm": [], "vision": []}
    for name, m in model.named_modules():
        if isinstance(m, torch.nn.ModuleList) and len(m) > 1 and len({type(c) for c in m}) == 1:
            kind = "vision" if ".visual." in f".{name}." or "vision" in name else "lm"
            if name.endswith("layers") or name.endswith("blocks"):
                found[kind].extend(m)
    return found


def compile_blocks(model: torch.nn.Module, kinds=("lm", "vision"), backend: str = "inductor",
                   mode: str | None = None) -> dict[str, int]:
    """torch.compile every block of the given kinds in place (idempotent). Returns how many were compiled per kind."""
    out = {}
    for kind, blocks in _blocks(model).items():
        if kind not in kinds:
            continue
        for b in blocks:
            for m in (b, *b.children()):
                if getattr(m, "_compiled_call_impl", None) is None:
                    m.compile(backend=backend, mode=mode, dynamic=None)
        out[kind] = len(blocks)
    log.info("compiled blocks: %s (backend %s)", out, backend)
    return out


def uncompile_blocks(model: torch.nn.Module) -> int:
    """Back to eager (for comparisons)."""
    n = 0
    for blocks in _blocks(model).values():
        for b in blocks:
            n += getattr(b, "_compiled_call_impl", None) is not None
            for m in (b, *b.children()):
                m._compiled_call_impl = None
    return n
