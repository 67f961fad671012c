"""train.fast_vision on a tiny Qwen2.5-VL (CPU, fp32): the batched vision attention gives the stock forward's video
features and gradients, for grids that split into equal windows (one reshape) and for odd grids and several videos
(one batch per segment length), with one SDPA call per distinct segment length instead of one per segment."""
import pytest
import torch
from torch.utils._python_dispatch import TorchDispatchMode
from transformers import Qwen2_5_VLConfig, Qwen2_5_VLForConditionalGeneration

from train.fast_vision import patch_vision, unpatch_vision

# 3 blocks: windowed, full, windowed; windows of 56 px = 4x4 patches (2x2 merged tokens), as the 7B's 112 px = 8x8
VISION = dict(depth=3, hidden_size=32, intermediate_size=64, num_heads=2, out_hidden_size=64, patch_size=14,
              spatial_merge_size=2, temporal_patch_size=2, window_size=56, fullatt_block_indexes=[1])
TEXT = dict(vocab_size=256, hidden_size=64, intermediate_size=128, num_hidden_layers=1, num_attention_heads=4,
            num_key_value_heads=2,
            rope_parameters={"rope_type": "default", "rope_theta": 1e4, "mrope_section": [4, 2, 2]})


class CountSDPA(TorchDispatchMode):
    """Counts the attention kernels actually dispatched (whatever SDPA backend the CPU picks)."""

    def __init__(self):
        super().__init__()
        self.calls = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        self.calls += "scaled_dot_product" in func.__name__ and "backward" not in func.__name__
        return func(*args, **(kwargs or {}))


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    m = Qwen2_5_VLForConditionalGeneration._from_config(
        Qwen2_5_VLConfig(text_config=TEXT, vision_config=VISION, image_token_id=250, video_token_id=251,
                         vision_start_token_id=252, vision_end_token_id=253), attn_implementation="sdpa")
    return m.train()  # training mode: the trainers' state (dropout is 0 in the tower either way)


def features(model, pixels, grid):
    with CountSDPA() as count:
        out = model.model.get_video_features(pixels, grid)
    out = out.pooler_output if hasattr(out, "pooler_output") else out
    return torch.cat(list(out)) if isinstance(out, (tuple, list)) else out, count.calls


def segments(grid, window=4):
    """(windows, full-attention segments) per forward: what the stock path calls SDPA for, layer by layer."""
    wins = sum(t * -(-h // window) * -(-w // window) for t, h, w in grid)
    return wins, sum(t for t, _, _ in grid)


@pytest.mark.parametrize("grid,distinct", [
    ([[2, 8, 8]], (1, 1)),                  # 4 equal windows of 16 patches per frame; frames of 64: plain reshape
    ([[2, 6, 10], [1, 4, 4]], (3, 2)),      # edge windows of 16/8/4 patches; frames of 60 and 16: grouped by length
])
def test_batched_vision_attention_equals_stock(model, grid, distinct):
    g = torch.tensor(grid)
    torch.manual_seed(1)
    pixels = torch.randn(int(g.prod(-1).sum()), 3 * 2 * 14 * 14)
    wins, frames = segments(grid)
    unpatch_vision(model)
    model.zero_grad(set_to_none=True)
    ref, stock_calls = features(model, pixels, g)
    (ref * torch.linspace(-1, 1, ref.shape[-1])).sum().backward()
    ref_grads = {n: p.grad.clone() for n, p in model.model.visual.named_parameters()}
    assert stock_calls == 2 * wins + frames  # the stock SDPA path: one call per window / frame, per layer

    assert patch_vision(model) == VISION["depth"]
    assert patch_vision(model) == VISION["depth"]  # idempotent: still one wrapper per module
    model.zero_grad(set_to_none=True)
    out, calls = features(model, pixels, g)
    (out * torch.linspace(-1, 1, out.shape[-1])).sum().backward()
    assert calls == 2 * distinct[0] + distinct[1]  # one batched call per distinct segment length, per layer
    assert out.shape == ref.shape == (int(g.prod(-1).sum()) // 4, TEXT["hidden_size"])
    torch.testing.assert_close(out, ref, rtol=1e-5, atol=1e-5)
    for n, p in model.model.visual.named_parameters():
        torch.testing.assert_close(p.grad, ref_grads[n], rtol=1e-4, atol=1e-5, msg=lambda m: f"{n}: {m}")
    unpatch_vision(model)


def test_whole_model_loss_unchanged_and_switch_off(model, monkeypatch):
    g = torch.tensor([[2, 6, 10]])
    n_video = int(g.prod(-1).sum()) // 4
    ids = torch.cat([torch.tensor([5, model.config.vision_start_token_id]),
                     torch.full((n_video,), model.config.video_token_id),
                     torch.tensor([model.config.vision_end_token_id]), torch.arange(10, 30)])[None]
    labels = ids.clone()
    labels[:, :-20] = -100
    torch.manual_seed(2)
    batch = dict(input_ids=ids, labels=labels, attention_mask=torch.ones_like(ids), video_grid_thw=g,
                 pixel_values_videos=torch.randn(int(g.prod(-1).sum()), 3 * 2 * 14 * 14),
                 mm_token_type_ids=(ids == model.config.video_token_id).long() * 2)
    unpatch_vision(model)
    with torch.no_grad():
        ref = model(**batch).loss
    monkeypatch.setenv("VIDEOKR_FAST_VISION", "0")
    assert patch_vision(model) == 0  # switched off: the stock forward stays
    monkeypatch.delenv("VIDEOKR_FAST_VISION")
    assert patch_vision(model) == VISION["depth"]
    with torch.no_grad():
        loss = model(**batch).loss
    torch.testing.assert_close(loss, ref, rtol=1e-5, atol=1e-6)
    assert unpatch_vision(model) == VISION["depth"]
