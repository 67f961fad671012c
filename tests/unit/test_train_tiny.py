"""Tiny random models of the real Qwen VL classes, offline tokenizer and processor, saved and reloaded."""
import time

import pytest
from transformers import AutoModelForImageTextToText, AutoProcessor

from train.tiny import SPECIAL_TOKENS, TAG_TOKENS, build_tiny


@pytest.mark.parametrize("family,cls", [("qwen2_5_vl", "Qwen2_5_VLForConditionalGeneration"),
                                        ("qwen3_vl", "Qwen3VLForConditionalGeneration")])
def test_build_and_reload_offline(tmp_path, family, cls, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    started = time.time()
    path = build_tiny(family, tmp_path / family)
    built = time.time() - started
    model = AutoModelForImageTextToText.from_pretrained(path)
    processor = AutoProcessor.from_pretrained(path)
    assert type(model).__name__ == cls
    assert processor.video_processor is not None and processor.chat_template
    assert sum(p.numel() for p in model.parameters()) < 1_000_000
    tok = processor.tokenizer
    for t in SPECIAL_TOKENS + TAG_TOKENS:                 # every special token is one id
        assert len(tok(t, add_special_tokens=False)["input_ids"]) == 1, t
    assert model.config.video_token_id == tok.convert_tokens_to_ids("<|video_pad|>")
    text = processor.apply_chat_template([{"role": "user", "content": [{"type": "video"},
                                                                       {"type": "text", "text": "hi"}]}],
                                         add_generation_prompt=True, tokenize=False)
    assert "<|vision_start|><|video_pad|><|vision_end|>" in text and text.endswith("<|im_start|>assistant\n")
    assert tok.decode(tok("<think>x</think> <answer>B</answer>")["input_ids"], skip_special_tokens=True) == \
        "<think>x</think> <answer>B</answer>"          # tags survive skip_special_tokens (the reward needs them)
    assert built < 10  # about a second on an idle core; generous for a shared machine
