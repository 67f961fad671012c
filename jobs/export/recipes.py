"""The release's training settings that travel with an export: verl's per-video sampling and LLaMA-Factory's SFT recipe.

VideoKR's SFT (REFERENCE.md): LLaMA-Factory, full fine-tuning with the vision tower and projector frozen, DeepSpeed
ZeRO-3, lr 1e-5 cosine, warmup 0.02, one epoch, bf16, video fps 2, at most 128 frames of 100,352 pixels (128 * 28 *
28), cutoff 16,384 tokens, template qwen2_vl. Its verl rows sample each video the same way (min 4 frames).
"""
from __future__ import annotations

PIXELS = 128 * 28 * 28   # 100,352 pixels per frame: 128 visual tokens at Qwen2-VL's 28-pixel merged patch

# verl's `videos` entry (besides `video`): qwen-vl-utils' fetch_video sampling keys.
VERL_VIDEO = {"fps": 2.0, "max_frames": 128, "min_frames": 4, "max_pixels": PIXELS, "min_pixels": PIXELS}

LLAMAFACTORY_YAML = f"""\
# LLaMA-Factory SFT with VideoKR's settings. Run it from this folder (paths below are relative to it):
#   cd <this folder> && llamafactory-cli train train_sft.yaml
# Set model_name_or_path to your base model (Qwen2.5-VL: template qwen2_vl; Qwen3-VL: template qwen3_vl).

### model
model_name_or_path: Qwen/Qwen2.5-VL-7B-Instruct
trust_remote_code: true
video_fps: 2.0
video_maxlen: 128
video_max_pixels: {PIXELS}

### method
stage: sft
do_train: true
finetuning_type: full
freeze_vision_tower: true
freeze_multi_modal_projector: true
deepspeed: ds_z3_config.json

### dataset
dataset: videokr_sft
dataset_dir: .
media_dir: .
template: qwen2_vl
cutoff_len: 16384
preprocessing_num_workers: 16
dataloader_num_workers: 4

### output
output_dir: saves/videokr-sft
logging_steps: 10
save_steps: 500
plot_loss: true
overwrite_output_dir: true
report_to: none

### train
per_device_train_batch_size: 1
gradient_accumulation_steps: 4
learning_rate: 1.0e-5
num_train_epochs: 1.0
lr_scheduler_type: cosine
warmup_steps: 0.02          # a ratio of the steps (transformers 5); on transformers 4.x write warmup_ratio: 0.02
bf16: true
ddp_timeout: 180000000
"""

# LLaMA-Factory's examples/deepspeed/ds_z3_config.json (ZeRO-3; "auto" values filled in from the training args).
DS_Z3 = {
    "train_batch_size": "auto",
    "train_micro_batch_size_per_gpu": "auto",
    "gradient_accumulation_steps": "auto",
    "gradient_clipping": "auto",
    "zero_allow_untested_optimizer": True,
    "fp16": {"enabled": "auto", "loss_scale": 0, "loss_scale_window": 1000, "initial_scale_power": 16,
             "hysteresis": 2, "min_loss_scale": 1},
    "bf16": {"enabled": "auto"},
    "zero_optimization": {
        "stage": 3, "overlap_comm": False, "contiguous_gradients": True, "sub_group_size": 1000000000,
        "reduce_bucket_size": "auto", "stage3_prefetch_bucket_size": "auto",
        "stage3_param_persistence_threshold": "auto", "stage3_max_live_parameters": 1000000000,
        "stage3_max_reuse_distance": 1000000000, "stage3_gather_16bit_weights_on_model_save": True,
    },
}
