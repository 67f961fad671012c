"""Batches for video SFT: chat-templated prompt + video through the model's processor, then the response tokens.

The prompt (system, user turn with the video placeholder, the assistant header) goes through the processor with our
own decoded frames; the response (`<think>..</think>\n<answer>..</answer>` plus the template's end-of-turn) is
tokenized on its own and appended, exactly as generation would continue from the prompt. Labels are -100 on every
prompt token (including all video placeholder tokens) and on padding: assistant-only loss.
"""
from __future__ import annotations

import logging

import torch

from train.data import MAX_FRAMES, MAX_VIDEO_TOKENS, VideoDecodeError, example_from_row, example_stamps, frames_for, \
    prompt_messages, target_text, video_inputs

log = logging.getLogger("videokr.train")
IGNORE = -100
# Fields concatenated over videos (not per token); everything else the processor returns is per token.
VIDEO_FIELDS = ("pixel_values_videos", "video_grid_thw", "second_per_grid_ts")


def split_template(processor, messages: list[dict], response: str) -> tuple[str, str]:
    """(prompt text ending in the assistant header, response text with the template's end-of-turn suffix)."""
    prompt = processor.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
    full = processor.apply_chat_template(messages + [{"role": "assistant", "content": response}], tokenize=False)
    if not full.startswith(prompt):
        raise ValueError("chat template: the conversation with the answer does not start with the generation prompt")
    return prompt, full[len(prompt):]


class VideoSFTCollator:
    """Turns raw VideoKR rows into model inputs with assistant-only labels."""

    def __init__(self, processor, n_frames: int = MAX_FRAMES, max_video_tokens: int = MAX_VIDEO_TOKENS,
                 max_length: int | None = None):
        self.processor = processor
        self.tokenizer = processor.tokenizer
        self.n_frames = n_frames
        self.max_video_tokens = max_video_tokens
        self.max_length = max_length
        self.skipped: list[tuple[str, str]] = []

    def encode(self, row: dict) -> dict:
        ex = example_from_row(row)
        frames = frames_for(self.processor, ex.video_path, self.n_frames, self.max_video_tokens,
                            example_stamps(ex, self.n_frames))
        prompt, response = split_template(self.processor, prompt_messages(ex), target_text(ex))
        enc = video_inputs(self.processor, [prompt], [frames])
        prompt_ids = enc["input_ids"][0]
        response_ids = torch.tensor(self.tokenizer(response, add_special_tokens=False)["input_ids"],
                                    dtype=prompt_ids.dtype)
        if self.max_length is not None:
            room = self.max_length - prompt_ids.numel()
            if room <= 0:
                raise ValueError(f"{ex.problem_id}: prompt of {prompt_ids.numel()} tokens exceeds max_length "
                                 f"{self.max_length}")
            response_ids = response_ids[:room]
        item = {"input_ids": torch.cat([prompt_ids, response_ids]),
                "labels": torch.cat([torch.full_like(prompt_ids, IGNORE), response_ids])}
        for k, v in enc.items():
            if k in ("input_ids", "attention_mask"):
                continue
            if k in VIDEO_FIELDS:
                item[k] = torch.as_tensor(v)
            else:  # per-token fields (mm_token_type_ids, ...): zeros over the response
                v = torch.as_tensor(v)[0]
                item[k] = torch.cat([v, v.new_zeros(response_ids.numel())])
        return item

    def __call__(self, rows: list[dict]) -> dict:
        items = []
        for row in rows:
            try:
                items.append(self.encode(row))
            except (VideoDecodeError, ValueError) as exc:  # a bad example is skipped, never the whole run
                log.error("sft: skipping %s: %s", row.get("problem_id"), exc)
                self.skipped.append((str(row.get("problem_id")), str(exc)))
        if not items:
            raise RuntimeError(f"no usable example in batch {[r.get('problem_id') for r in rows]}")
        return pad_batch(items, self.tokenizer.pad_token_id)


def pad_batch(items: list[dict], pad_id: int) -> dict:
    """Right-pad per-token fields; concatenate video fields."""
    width = max(it["input_ids"].numel() for it in items)
    out: dict[str, torch.Tensor] = {}
    pads = {"input_ids": pad_id, "labels": IGNORE}
    for key in items[0]:
        if key in VIDEO_FIELDS:
            out[key] = torch.cat([it[key] for it in items])
            continue
        rows = []
        for it in items:
            v = it[key]
            rows.append(torch.cat([v, v.new_full((width - v.numel(),), pads.get(key, 0))]))
        out[key] = torch.stack(rows)
    out["attention_mask"] = torch.stack([
        torch.cat([torch.ones(it["input_ids"].numel(), dtype=torch.long),
                   torch.zeros(width - it["input_ids"].numel(), dtype=torch.long)]) for it in items])
    return out
