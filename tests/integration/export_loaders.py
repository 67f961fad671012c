"""Load videokr exports with the training tools' own code: LLaMA-Factory and verl from a no-deps install (not a test).

    python tests/integration/export_loaders.py LF_FOLDER VERL_FOLDER PROCESSOR_DIR SCRATCH   # "REPORT {json}" on stdout

Run by tests/integration/test_export_loaders.py in a child process whose working directory is the verl folder (verl
opens relative video paths from there; LLaMA-Factory joins them to its `media_dir`), with the tools' install folder
on PYTHONPATH after the repository. The only import-time stand-ins, both for third-party modules:
- `torchaudio`: LLaMA-Factory's mm_plugin imports it at the top for audio inputs. When it is not installed, an empty
  module stands in (no audio here); torchaudio wheels are built for one torch release each.
- verl's package `__init__` is skipped (`verl` is registered as a bare package over its folder): it imports
  `verl.protocol`, which needs Ray and tensordict for distributed training, not for the dataset. The dataset module
  (verl.utils.dataset.rl_dataset) and everything it imports are verl's own code, run as shipped.
"""
from __future__ import annotations

import importlib.machinery
import importlib.util
import json
import os
import sys
import types
from pathlib import Path


def _stub_torchaudio() -> list[str]:
    if importlib.util.find_spec("torchaudio") is not None:
        return []
    mod = types.ModuleType("torchaudio")
    mod.__spec__ = importlib.machinery.ModuleSpec("torchaudio", None)
    sys.modules["torchaudio"] = mod
    return ["torchaudio (empty module)"]


def _bare_verl() -> list[str]:
    spec = importlib.util.find_spec("verl")
    pkg = types.ModuleType("verl")
    pkg.__path__ = list(spec.submodule_search_locations)
    pkg.__spec__ = spec
    sys.modules["verl"] = pkg
    return ["verl/__init__.py (not run: it imports ray, tensordict)"]


def _scratch() -> Path:
    return Path(os.environ["VIDEOKR_LOADER_SCRATCH"])


def llamafactory(folder: Path, processor) -> dict:
    """LLaMA-Factory's own path for a dataset_info.json dataset: get_dataset_list -> _load_single_dataset (file
    load + align_dataset with the sharegpt converter), then the qwen2_vl template's mm_plugin checks and decodes
    every row's videos as its SFT preprocessing does."""
    from llamafactory.data.loader import _load_single_dataset
    from llamafactory.data.parser import get_dataset_list
    from llamafactory.data.template import TEMPLATES
    from llamafactory.hparams import DataArguments, ModelArguments
    from transformers import Seq2SeqTrainingArguments

    info = json.loads((folder / "dataset_info.json").read_text())
    data_args = DataArguments(dataset_dir=str(folder), template="qwen2_vl", cutoff_len=16384)
    model_args = ModelArguments(model_name_or_path=str(processor), cache_dir=str(_scratch() / "lf-cache"))
    training_args = Seq2SeqTrainingArguments(output_dir=str(_scratch() / "lf-out"), report_to="none")
    plugin = TEMPLATES["qwen2_vl"].mm_plugin
    out = {}
    for name in sorted(info):
        attr = get_dataset_list([name], str(folder))[0]
        ds = _load_single_dataset(attr, model_args, data_args, training_args)
        rows = list(ds)
        frames = []
        for r in rows:
            videos = r["_videos"] or []
            plugin._validate_messages(r["_prompt"] + r["_response"], [], videos, [])
            frames += [len(v) for v in plugin._regularize_videos(
                videos, image_max_pixels=100352, image_min_pixels=32 * 32, video_fps=2.0, video_maxlen=128)["videos"]]
        out[name] = {
            "file": attr.dataset_name, "rows": len(rows),
            "videos": [v for r in rows for v in r["_videos"] or []], "frames": frames,
            "roles": sorted({m["role"] for r in rows for m in r["_prompt"] + r["_response"]}),
            "video_tokens": [sum(m["content"].count("<video>") for m in r["_prompt"]) for r in rows],
            "responses": [r["_response"][0]["content"] for r in rows]}
    return out


def llamafactory_recipe(folder: Path) -> dict:
    """train_sft.yaml through LLaMA-Factory's own argument parser (unknown keys are an error there), as
    `llamafactory-cli train train_sft.yaml` reads it. Test-machine overrides only: deepspeed is left out of the parse
    when it is not installed (the training arguments import it; its config file is read instead), and a CPU-only
    machine adds use_cpu (transformers refuses bf16 without a GPU otherwise)."""
    from llamafactory.hparams.parser import _parse_train_args
    from omegaconf import OmegaConf

    raw = OmegaConf.to_container(OmegaConf.load(folder / "train_sft.yaml"))
    ds = json.loads((folder / raw["deepspeed"]).read_text())
    if importlib.util.find_spec("deepspeed") is None:
        raw.pop("deepspeed")
    raw["output_dir"] = str(_scratch() / "lf-recipe")
    import torch
    if not torch.cuda.is_available():
        raw["use_cpu"] = True
    model, data, training, finetuning, _ = _parse_train_args(raw)
    return {"stage": finetuning.stage, "finetuning_type": finetuning.finetuning_type,
            "freeze_vision_tower": finetuning.freeze_vision_tower,
            "freeze_multi_modal_projector": finetuning.freeze_multi_modal_projector,
            "zero_stage": ds["zero_optimization"]["stage"], "learning_rate": training.learning_rate,
            "lr_scheduler_type": str(getattr(training.lr_scheduler_type, "value", training.lr_scheduler_type)),
            "warmup": training.warmup_steps, "num_train_epochs": training.num_train_epochs,
            "bf16": training.bf16, "video_fps": model.video_fps, "video_maxlen": model.video_maxlen,
            "video_max_pixels": model.video_max_pixels, "cutoff_len": data.cutoff_len, "template": data.template,
            "dataset": data.dataset, "dataset_dir": data.dataset_dir, "media_dir": data.media_dir}


def verl(folder: Path, processor_dir: Path) -> dict:
    """verl's RLHFDataset on both parquet files with a real processor: it builds the chat messages (one video entry
    per `<video>`), reads every video with qwen-vl-utils while filtering over-long prompts, and drops any row whose
    processing fails. Then verl's own loader brings in our reward entry point and scores each row."""
    from omegaconf import OmegaConf
    from transformers import AutoProcessor
    from verl.utils.dataset.rl_dataset import RLHFDataset
    from verl.utils.import_utils import load_extern_object

    import qwen_vl_utils.vision_process as vp
    processor = AutoProcessor.from_pretrained(processor_dir)
    config = OmegaConf.create({"max_prompt_length": 16384, "filter_overlong_prompts": True,
                               "filter_overlong_prompts_workers": 1, "cache_dir": str(_scratch() / "verl-cache"),
                               "prompt_key": "prompt", "video_key": "videos", "truncation": "error"})
    files = [str(folder / f) for f in ("rl.parquet", "sft.parquet")]
    ds = RLHFDataset(data_files=files, tokenizer=processor.tokenizer, config=config, processor=processor)
    score = load_extern_object("pkg://train.verl_reward", "compute_score")
    items, rewards = [ds[i] for i in range(len(ds))], []
    for it in items:
        truth = it["reward_model"]["ground_truth"]
        answer = truth.removeprefix("<answer>").removesuffix("</answer>")
        right = score(data_source=it["data_source"], solution_str=f"<think>t</think><answer>{answer}</answer>",
                      ground_truth=truth, extra_info=dict(it["extra_info"]))
        wrong = score(data_source=it["data_source"], solution_str="no tags", ground_truth=truth,
                      extra_info=dict(it["extra_info"]))
        rewards.append([right, wrong])
    videos = [c for it in items for m in it["raw_prompt"] for c in m["content"] if c.get("type") == "video"]
    reader = vp.get_video_reader_backend()
    # the same rows through qwen-vl-utils' last-resort reader, torchvision's read_video (gone from the project's
    # torchvision): verl's filter catches the error and drops the row, which is why the README asks for decord
    import datasets
    datasets.disable_caching()   # else the length filter's cached result from the run above comes back
    vp.FORCE_QWENVL_VIDEO_READER = "torchvision"
    vp.get_video_reader_backend.cache_clear()
    plain = RLHFDataset(data_files=files, tokenizer=processor.tokenizer, config=config, processor=processor)
    return {"rows": len(ds), "video_entries": videos, "rewards": rewards, "reader": reader,
            "splits": [it["extra_info"]["split"] for it in items], "rows_with_torchvision_reader": len(plain)}


def main() -> None:
    lf_folder, verl_folder, processor_dir, scratch = (Path(a).resolve() for a in sys.argv[1:5])
    os.environ["VIDEOKR_LOADER_SCRATCH"] = str(scratch)
    os.environ["DISABLE_VERSION_CHECK"] = "1"   # LLaMA-Factory's own switch: it pins transformers<=5.6, we have newer
    stubbed = _stub_torchaudio() + _bare_verl()
    import transformers
    transformers.logging.set_verbosity_error()
    report = {"stubbed": stubbed, "cwd": os.getcwd(), "llamafactory": llamafactory(lf_folder, processor_dir),
              "recipe": llamafactory_recipe(lf_folder), "verl": verl(verl_folder, processor_dir)}
    print("REPORT " + json.dumps(report, default=str))


if __name__ == "__main__":
    main()
