"""train.fast_compile on a tiny Qwen2.5-VL (CPU, fp32): compiling the LM decoder layers and the vision blocks one by
one (with train.fast_vision's batched attention left eager inside them) gives the eager model's loss and gradients,
with and without gradient checkpointing, and every block kind shares one compiled graph."""
import shutil

import pytest
import torch
import torch._dynamo
from transformers import Qwen2_5_VLConfig, Qwen2_5_VLForConditionalGeneration

from train.fast_compile import compile_blocks, uncompile_blocks
from train.fast_vision import patch_vision

VISION = dict(depth=3, hidden_size=32, intermediate_size=64, num_heads=2, out_hidden_size=64, patch_size=14,
              spatial_merge_size=2, temporal_patch_size=2, window_size=56, fullatt_block_indexes=[1])
TEXT = dict(vocab_size=256, hidden_size=64, intermediate_size=128, num_hidden_layers=3, num_attention_heads=4,
            num_key_value_heads=2,
            rope_parameters={"rope_type": "default", "rope_theta": 1e4, "mrope_section": [4, 2, 2]})


def batch(cfg, grid=((2, 6, 10),)):
    g = torch.tensor(grid)
    n_video = int(g.prod(-1).sum()) // 4
    ids = torch.cat([torch.tensor([5, cfg.vision_start_token_id]), torch.full((n_video,), cfg.video_token_id),
                     torch.tensor([cfg.vision_end_token_id]), torch.arange(10, 30)])[None]
    labels = ids.clone()
    labels[:, :-20] = -100
    torch.manual_seed(2)
    return dict(input_ids=ids, labels=labels, attention_mask=torch.ones_like(ids), video_grid_thw=g,
                pixel_values_videos=torch.randn(int(g.prod(-1).sum()), 3 * 2 * 14 * 14),
                mm_token_type_ids=(ids == cfg.video_token_id).long() * 2)


def loss_and_grads(model, b):
    model.zero_grad(set_to_none=True)
    loss = model(**b, use_cache=False).loss  # as the trainers call it: no KV cache in training
    loss.backward()
    return loss.detach(), {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}


@pytest.fixture(autouse=True)
def no_compile_cache():
    """Inductor's on-disk cache keys pickle the compile's globals; in this suite's process yt_dlp's lazy compat
    modules are imported by other tests and fail to pickle (an import of 'no_Cryptodome'). A test's compile needs
    no cache."""
    import torch._functorch.config
    import torch._inductor.config
    with torch._inductor.config.patch(fx_graph_cache=False), \
            torch._functorch.config.patch(enable_autograd_cache=False):
        yield


@pytest.mark.parametrize("checkpointing", [False, True])
def test_compiled_blocks_equal_eager(checkpointing):
    torch.manual_seed(0)
    model = Qwen2_5_VLForConditionalGeneration._from_config(
        Qwen2_5_VLConfig(text_config=TEXT, vision_config=VISION, image_token_id=250, video_token_id=251,
                         vision_start_token_id=252, vision_end_token_id=253), attn_implementation="sdpa").train()
    if checkpointing:
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    patch_vision(model)
    b = batch(model.config)
    ref_loss, ref_grads = loss_and_grads(model, b)
    torch._dynamo.reset()
    torch._dynamo.utils.counters.clear()
    # inductor (the GPU default) needs a C++ compiler on the CPU; without one, aot_eager still traces every block
    backend = "inductor" if shutil.which("g++") or shutil.which("c++") else "aot_eager"
    assert compile_blocks(model, backend=backend) == {"lm": TEXT["num_hidden_layers"], "vision": VISION["depth"]}
    loss, grads = loss_and_grads(model, b)
    graphs = torch._dynamo.utils.counters["stats"]["unique_graphs"]
    assert graphs >= 2  # something was compiled: at least one graph per block kind
    # the 3 LM layers share graphs; the vision blocks split at the eager segment attention (before and after it),
    # and windowed/full blocks share them too: far fewer graphs than blocks x pieces
    assert graphs <= 8, torch._dynamo.utils.counters["stats"]
    torch.testing.assert_close(loss, ref_loss, rtol=1e-5, atol=1e-5)
    assert grads.keys() == ref_grads.keys()
    for n, g in grads.items():
        torch.testing.assert_close(g, ref_grads[n], rtol=1e-4, atol=1e-5, msg=lambda m: f"{n}: {m}")
    assert uncompile_blocks(model) == TEXT["num_hidden_layers"] + VISION["depth"]
    loss_eager, _ = loss_and_grads(model, b)
    torch.testing.assert_close(loss_eager, ref_loss)
