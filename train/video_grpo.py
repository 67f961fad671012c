"""`VideoGRPOTrainer`: TRL's GRPOTrainer with the video reaching every log-prob pass.

Stock TRL 1.16 renders video prompts for generation but its log-prob passes (old policy, reference model, and the
loss) receive only image tensors, so the policy is scored on a text-only view of a sequence it generated while
watching the video. This subclass:

- decodes each example's frames itself (train.data) and builds the prompt with the processor, once per video;
- keeps, per rollout row, the video tensors (`pixel_values_videos`, `video_grid_thw`, `second_per_grid_ts` where
  the model has it) and passes them, with `mm_token_type_ids` rebuilt from the full prompt+completion ids, to
  every log-prob pass: old-policy, reference and the loss. The per-row list rides in the batch dict, so TRL's
  shuffling and splitting keep it aligned with the sequences;
- suppresses vision placeholder tokens (image/video pads, vision start/end) in generation, so no completion can
  carry a placeholder that would desynchronise tokens and features;
- optionally (`record_generation_logps=True`) keeps the per-token log-probs of the sampled tokens at generation
  time (raw logits / temperature), as `sampling_per_token_logps`, to check that scoring reproduces generation.
"""
from __future__ import annotations

import copy

import torch
from trl import GRPOTrainer
from trl.trainer import grpo_trainer as _trl
from trl.trainer.utils import pad

from train.data import MAX_FRAMES, MAX_VIDEO_TOKENS, frames_for, video_inputs

VISION_TOKENS = ("<|image_pad|>", "<|video_pad|>", "<|vision_start|>", "<|vision_end|>", "<|vision_pad|>")
PER_VIDEO = ("pixel_values_videos", "video_grid_thw", "second_per_grid_ts")


def vision_token_ids(processor, model=None) -> list[int]:
    """Ids of every vision placeholder token the tokenizer knows (plus the model config's image/video ids)."""
    tok = processor.tokenizer
    ids = set()
    for t in VISION_TOKENS:
        i = tok.convert_tokens_to_ids(t)
        if isinstance(i, int) and i != tok.unk_token_id and i is not None:
            ids.add(i)
    for attr in ("image_token_id", "video_token_id", "vision_start_token_id", "vision_end_token_id"):
        i = getattr(getattr(model, "config", None), attr, None)
        if isinstance(i, int):
            ids.add(i)
    return sorted(ids)


class VideoGRPOTrainer(GRPOTrainer):
    """GRPO over video prompts. Dataset rows: `prompt` (chat messages, text only), `video_path`, reward columns."""

    def __init__(self, *args, n_frames: int = MAX_FRAMES, max_video_tokens: int = MAX_VIDEO_TOKENS,
                 record_generation_logps: bool = False, fast_rollout: bool = False, **kwargs):
        args_obj = kwargs.get("args")
        processing_class = kwargs.get("processing_class")
        model = kwargs.get("model", args[0] if args else None)
        if args_obj is not None and processing_class is not None:
            gk = dict(args_obj.generation_kwargs or {})
            gk["suppress_tokens"] = sorted(set(gk.get("suppress_tokens") or [])
                                           | set(vision_token_ids(processing_class, model)))
            args_obj.generation_kwargs = gk
        super().__init__(*args, **kwargs)
        self.n_frames = n_frames
        self.max_video_tokens = max_video_tokens
        self.record_generation_logps = record_generation_logps
        self.fast_rollout = fast_rollout  # train.rollout: shared-prefix static-cache decoding (Qwen2.5-VL)
        self._pending_paths: list[str] | None = None
        self._active_videos: list[dict] | None = None  # per sequence row: that row's video tensors

    # ---- building prompts with video ---------------------------------------------------------------------------
    def _encode_prompt(self, prompt: list[dict], path: str, stamps: tuple | None = None) -> tuple[list[int], dict]:
        messages = [dict(m) for m in prompt]
        for m in messages:  # put the video in front of the first user turn's text
            if m["role"] == "user":
                text = m["content"] if isinstance(m["content"], str) else \
                    "".join(p.get("text") or "" for p in m["content"] if p.get("type") == "text")
                m["content"] = [{"type": "video"}, {"type": "text", "text": text}]
                break
        text = self.processing_class.apply_chat_template(messages, add_generation_prompt=True, tokenize=False,
                                                         **self.chat_template_kwargs)
        frames = frames_for(self.processing_class, path, self.n_frames, self.max_video_tokens,
                            list(stamps) if stamps else None)
        enc = video_inputs(self.processing_class, [text], [frames])
        video = {k: enc[k] for k in PER_VIDEO if k in enc}
        if "second_per_grid_ts" in video:
            video["second_per_grid_ts"] = torch.as_tensor(video["second_per_grid_ts"], dtype=torch.float32)
        return enc["input_ids"][0].tolist(), video

    def _tokenize_prompts(self, prompts: list):  # _pending_paths: (video path, frame instants or None) per row
        if self._pending_paths is None:
            return super()._tokenize_prompts(prompts)
        cache: dict[tuple[str, str], tuple[list[int], dict]] = {}
        prompt_ids, videos = [], []
        for prompt, (path, stamps) in zip(prompts, self._pending_paths, strict=True):
            key = (path, repr(prompt))
            if key not in cache:  # each prompt repeats num_generations times in a batch: decode once
                cache[key] = self._encode_prompt(prompt, path, stamps)
            ids, video = cache[key]
            prompt_ids.append(ids)
            videos.append(video)
        self._active_videos = videos
        fields = self._video_fields(videos)
        fields["mm_token_type_ids"] = self.processing_class.create_mm_token_type_ids(prompt_ids)
        return prompt_ids, None, fields

    @staticmethod
    def _video_fields(videos: list[dict], device=None) -> dict:
        out = {}
        for k in videos[0]:
            out[k] = torch.cat([v[k] for v in videos])
            if device is not None:
                out[k] = out[k].to(device)
        return out

    def _mm_token_type_ids(self, input_ids: torch.Tensor) -> torch.Tensor:
        return torch.tensor(self.processing_class.create_mm_token_type_ids(input_ids.tolist()),
                            dtype=torch.long, device=input_ids.device)

    # ---- generation ---------------------------------------------------------------------------------------------
    def _generate_single_turn(self, prompt_ids, images, multimodal_fields, num_generations, has_tool_images=False):
        if self.fast_rollout and self._active_videos is not None and not self.use_vllm:
            from train.rollout import trainer_rollouts
            return trainer_rollouts(self, prompt_ids)
        if (not self.record_generation_logps or self._active_videos is None or self.use_vllm
                or self.use_transformers_continuous_batching):
            return super()._generate_single_turn(prompt_ids, images, multimodal_fields, num_generations,
                                                 has_tool_images)
        device = self.accelerator.device
        tensors = [torch.tensor(ids) for ids in prompt_ids]
        input_ids = pad(tensors, padding_value=self._tokenizer.pad_token_id, padding_side="left")
        attention_mask = pad([torch.ones_like(t) for t in tensors], padding_value=0, padding_side="left")
        inputs = {"input_ids": input_ids, "attention_mask": attention_mask,
                  "mm_token_type_ids": self._mm_token_type_ids(input_ids),
                  **self._video_fields(self._active_videos)}
        inputs = {k: v.to(device) for k, v in inputs.items()}
        with (_trl.unwrap_model_for_generation(
                self.model_wrapped, self.accelerator, gather_deepspeed3_params=self.args.ds3_gather_for_generation,
                generation_kwargs=self.generation_kwargs,
                gradient_checkpointing_kwargs=self.args.gradient_checkpointing_kwargs) as unwrapped,
              torch.no_grad(), self._dist.summon_full_params(self.model_wrapped, recurse=False)):
            config = copy.deepcopy(self.generation_config)
            config.return_dict_in_generate, config.output_logits = True, True
            out = unwrapped.generate(**inputs, generation_config=config)
        completion = out.sequences[:, input_ids.size(1):]
        logits = torch.stack(out.logits, dim=1).float() / self.temperature
        logps = torch.log_softmax(logits, dim=-1).gather(-1, completion.unsqueeze(-1)).squeeze(-1)
        is_eos = torch.isin(completion, torch.tensor(self.eos_token_ids, device=completion.device))
        ids, lps = [], []
        for row, lp, eos in zip(completion.cpu(), logps.cpu(), is_eos.cpu()):
            end = int(eos.int().argmax()) + 1 if eos.any() else row.numel()
            ids.append(row[:end].tolist())
            lps.append(lp[:end].tolist())
        return ids, lps

    def _generate_and_score_completions(self, inputs):
        if "video_path" not in inputs[0]:
            return super()._generate_and_score_completions(inputs)
        # the frame instants the export row carries for this trainer's frame budget (else model_frames chooses)
        self._pending_paths = [(x["video_path"], tuple(x.get("frame_timestamps") or ())
                                if int(x.get("frame_budget") or 0) == self.n_frames else None) for x in inputs]
        try:
            output = super()._generate_and_score_completions(inputs)
            output["video_inputs"] = self._active_videos
        finally:
            self._pending_paths = None
            self._active_videos = None
        return output

    # ---- scoring ------------------------------------------------------------------------------------------------
    def _compute_loss(self, model, inputs):
        self._active_videos = inputs.get("video_inputs")
        try:
            return super()._compute_loss(model, inputs)
        finally:
            self._active_videos = None

    def _get_per_token_logps_and_entropies(self, model, input_ids, attention_mask, logits_to_keep, batch_size=None,
                                           compute_entropy=False, compute_aux_loss=False, **image_kwargs):
        """Per-token log-probs of the completion, with each row's video tensors and mm_token_type_ids."""
        videos = self._active_videos
        if videos is None:
            return super()._get_per_token_logps_and_entropies(
                model, input_ids, attention_mask, logits_to_keep, batch_size=batch_size,
                compute_entropy=compute_entropy, compute_aux_loss=compute_aux_loss, **image_kwargs)
        if len(videos) != input_ids.size(0):
            raise RuntimeError(f"video rows ({len(videos)}) do not match sequence rows ({input_ids.size(0)})")
        batch_size = batch_size or input_ids.size(0)
        all_logps, all_entropies, all_aux = [], [], []
        for start in range(0, input_ids.size(0), batch_size):
            end = min(start + batch_size, input_ids.size(0))
            ids, mask = input_ids[start:end], attention_mask[start:end]
            model_inputs = {"input_ids": ids, "attention_mask": mask, "mm_token_type_ids": self._mm_token_type_ids(ids),
                            **self._video_fields(videos[start:end], ids.device)}
            if compute_aux_loss:
                model_inputs["output_router_logits"] = True
            labels = ids.masked_fill(mask == 0, -100)
            labels[:, :-logits_to_keep] = -100
            with self.accelerator.autocast():
                outputs = model(**model_inputs, labels=labels, fused_lm_head=True)
            all_logps.append(outputs.log_probs[:, -logits_to_keep:])
            if compute_entropy:
                all_entropies.append(outputs.entropy[:, -logits_to_keep:])
            if compute_aux_loss:
                all_aux.append(outputs.aux_loss)
        return (torch.cat(all_logps), torch.cat(all_entropies) if compute_entropy else None,
                torch.stack(all_aux).mean() if compute_aux_loss else None)
