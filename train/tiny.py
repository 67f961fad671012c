"""Tiny randomly initialised vision-language models of the real classes, for CPU tests and the embedded run.

    path = build_tiny("qwen2_5_vl", out_dir)     # writes model + tokenizer + processor; ~1 s
    model = AutoModelForImageTextToText.from_pretrained(path)
    processor = AutoProcessor.from_pretrained(path)

Nothing is downloaded: the tokenizer is a byte-level BPE trained here with `tokenizers` on a small corpus that holds
the Qwen special tokens, wrapped as a `PreTrainedTokenizerFast`; the processor is the model family's own
(`Qwen2_5_VLProcessor` / `Qwen3VLProcessor`) with small frame sizes and the Qwen chat template. Weights are random:
these models say nothing about quality, only that the training and evaluation code runs the real model classes.
"""
from __future__ import annotations

import json
from pathlib import Path

import torch

SPECIAL_TOKENS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|vision_start|>", "<|vision_end|>",
                  "<|video_pad|>", "<|image_pad|>"]
# Plain added tokens (not "special": they survive skip_special_tokens so rewards can see them).
TAG_TOKENS = ["<think>", "</think>", "<answer>", "</answer>"]

# The Qwen2-VL/Qwen2.5-VL chat template (vision placeholders expanded by the processor).
QWEN_CHAT_TEMPLATE = (
    "{% set image_count = namespace(value=0) %}{% set video_count = namespace(value=0) %}"
    "{% for message in messages %}{% if loop.first and message['role'] != 'system' %}"
    "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n{% endif %}"
    "<|im_start|>{{ message['role'] }}\n"
    "{% if message['content'] is string %}{{ message['content'] }}<|im_end|>\n"
    "{% else %}{% for content in message['content'] %}"
    "{% if content['type'] == 'image' or 'image' in content or 'image_url' in content %}"
    "{% set image_count.value = image_count.value + 1 %}"
    "{% if add_vision_id %}Picture {{ image_count.value }}: {% endif %}<|vision_start|><|image_pad|><|vision_end|>"
    "{% elif content['type'] == 'video' or 'video' in content %}"
    "{% set video_count.value = video_count.value + 1 %}"
    "{% if add_vision_id %}Video {{ video_count.value }}: {% endif %}<|vision_start|><|video_pad|><|vision_end|>"
    "{% elif 'text' in content %}{{ content['text'] }}{% endif %}{% endfor %}<|im_end|>\n"
    "{% endif %}{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)

_CORPUS = [
    "You are a helpful assistant.", "system user assistant",
    "Answer the question about the video. Think step by step inside <think> </think> tags, then give the final "
    "answer inside <answer> </answer> tags. For multiple choice, answer with the option letter only.",
    "Question: Which algorithm is shown? Options: A. bubble sort B. merge sort C. quick sort D. heap sort",
    "The video shows a pendulum swinging; its period depends on the length and gravity.",
    "A projectile follows a parabola; the titration curve rises sharply at the equivalence point.",
    "The graph search visits nodes in breadth first order using a queue, then depth first using a stack.",
    "Supply and demand curves shift; the equilibrium price and quantity change. 0 1 2 3 4 5 6 7 8 9",
    "<think>The frames show the array being split and merged.</think> <answer>B</answer>",
    "<think>Energy is conserved, so the speed is highest at the bottom.</think> <answer>at the bottom</answer>",
    "abcdefghijklmnopqrstuvwxyz ABCDEFGHIJKLMNOPQRSTUVWXYZ .,;:!?()[]{}'\"-+=*/%<>#@&|_\n",
]


def build_tokenizer(vocab_size: int = 512):
    """Byte-level BPE trained on a small corpus, with the Qwen special tokens; returns a PreTrainedTokenizerFast."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=SPECIAL_TOKENS + TAG_TOKENS,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tok.train_from_iterator(_CORPUS * 4, trainer=trainer)
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="<|im_end|>", pad_token="<|endoftext|>",
                                   additional_special_tokens=SPECIAL_TOKENS[1:])
    fast.add_tokens(TAG_TOKENS)  # already in the vocab; marks them as added tokens so they never split
    fast.chat_template = QWEN_CHAT_TEMPLATE
    fast.padding_side = "left"
    return fast


def _ids(tokenizer) -> dict[str, int]:
    ids = {t: tokenizer.convert_tokens_to_ids(t) for t in SPECIAL_TOKENS}
    return {"image_token_id": ids["<|image_pad|>"], "video_token_id": ids["<|video_pad|>"],
            "vision_start_token_id": ids["<|vision_start|>"], "vision_end_token_id": ids["<|vision_end|>"],
            "eos": ids["<|im_end|>"], "pad": ids["<|endoftext|>"]}


def _qwen2_5_vl(tokenizer, hidden: int, layers: int):
    from transformers import (Qwen2_5_VLConfig, Qwen2_5_VLForConditionalGeneration, Qwen2_5_VLProcessor,
                              Qwen2VLImageProcessor, Qwen2VLVideoProcessor)
    i = _ids(tokenizer)
    heads = 4
    head_dim = hidden // heads
    q = head_dim // 2  # mrope sections (t, h, w) sum to head_dim / 2
    cfg = Qwen2_5_VLConfig(
        text_config=dict(vocab_size=len(tokenizer), hidden_size=hidden, intermediate_size=hidden * 2,
                         num_hidden_layers=layers, num_attention_heads=heads, num_key_value_heads=2,
                         max_position_embeddings=4096, bos_token_id=i["pad"], eos_token_id=i["eos"],
                         pad_token_id=i["pad"],
                         rope_parameters={"rope_type": "default", "rope_theta": 10000.0,
                                          "mrope_section": [q - 2 * (q // 3), q // 3, q // 3]}),
        vision_config=dict(depth=1, hidden_size=32, intermediate_size=64, num_heads=2, out_hidden_size=hidden,
                           patch_size=14, spatial_merge_size=2, temporal_patch_size=2, window_size=56,
                           fullatt_block_indexes=[0]),
        image_token_id=i["image_token_id"], video_token_id=i["video_token_id"],
        vision_start_token_id=i["vision_start_token_id"], vision_end_token_id=i["vision_end_token_id"])
    model = Qwen2_5_VLForConditionalGeneration(cfg)
    small = {"shortest_edge": 28 * 28, "longest_edge": 56 * 56 * 4}
    processor = Qwen2_5_VLProcessor(
        image_processor=Qwen2VLImageProcessor(size=small),
        video_processor=Qwen2VLVideoProcessor(size=small, cap_pixels_per_frame=False),
        tokenizer=tokenizer, chat_template=QWEN_CHAT_TEMPLATE)
    return model, processor


def _qwen3_vl(tokenizer, hidden: int, layers: int):
    from transformers import (Qwen2VLImageProcessor, Qwen3VLConfig, Qwen3VLForConditionalGeneration,
                              Qwen3VLProcessor, Qwen3VLVideoProcessor)
    i = _ids(tokenizer)
    heads, head_dim = 4, hidden // 4
    q = head_dim // 2
    cfg = Qwen3VLConfig(
        text_config=dict(vocab_size=len(tokenizer), hidden_size=hidden, intermediate_size=hidden * 2,
                         num_hidden_layers=layers, num_attention_heads=heads, num_key_value_heads=2,
                         head_dim=head_dim, max_position_embeddings=4096, pad_token_id=i["pad"],
                         rope_parameters={"rope_type": "default", "rope_theta": 10000.0, "mrope_interleaved": True,
                                          "mrope_section": [q - 2 * (q // 3), q // 3, q // 3]}),
        vision_config=dict(depth=1, hidden_size=32, intermediate_size=64, num_heads=2, out_hidden_size=hidden,
                           patch_size=16, spatial_merge_size=2, temporal_patch_size=2, num_position_embeddings=64,
                           deepstack_visual_indexes=[0]),
        image_token_id=i["image_token_id"], video_token_id=i["video_token_id"],
        vision_start_token_id=i["vision_start_token_id"], vision_end_token_id=i["vision_end_token_id"])
    model = Qwen3VLForConditionalGeneration(cfg)
    processor = Qwen3VLProcessor(
        image_processor=Qwen2VLImageProcessor(size={"shortest_edge": 32 * 32, "longest_edge": 64 * 64 * 4},
                                              patch_size=16),
        video_processor=Qwen3VLVideoProcessor(size={"shortest_edge": 32 * 32, "longest_edge": 64 * 64 * 16},
                                              cap_pixels_per_frame=False),
        tokenizer=tokenizer, chat_template=QWEN_CHAT_TEMPLATE)
    return model, processor


FAMILIES = {"qwen2_5_vl": _qwen2_5_vl, "qwen3_vl": _qwen3_vl}


def build_tiny(family: str, out_dir: str | Path, hidden: int = 64, layers: int = 2, seed: int = 0) -> Path:
    """Build, save and return the directory of a tiny random model + processor of `family` (see FAMILIES)."""
    if family not in FAMILIES:
        raise ValueError(f"unknown tiny model family {family!r}; known: {sorted(FAMILIES)}")
    out = Path(out_dir)
    torch.manual_seed(seed)
    tokenizer = build_tokenizer()
    model, processor = FAMILIES[family](tokenizer, hidden, layers)
    i = _ids(tokenizer)
    model.generation_config.eos_token_id = i["eos"]
    model.generation_config.pad_token_id = i["pad"]
    model.generation_config.bos_token_id = None
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out)
    processor.save_pretrained(out)
    (out / "videokr_tiny.json").write_text(json.dumps({"family": family, "hidden": hidden, "layers": layers,
                                                       "seed": seed, "random_init": True}))
    return out
