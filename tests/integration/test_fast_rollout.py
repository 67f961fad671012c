"""Fast rollouts (train.rollout) on a tiny Qwen2.5-VL (CPU): greedy tokens equal HF `generate`'s, with the video and
the vision-token suppression; sampled tokens carry log-probs equal to a full forward's scoring of them."""
import numpy as np
import pytest
import torch
from transformers import AutoModelForImageTextToText, AutoProcessor

from train.data import Example, Frames, prompt_messages, video_inputs
from train.rollout import FastRollout, groups_of
from train.tiny import build_tiny
from train.video_grpo import PER_VIDEO, vision_token_ids

QUESTIONS = ["Which algorithm is shown?", "What does the pendulum's period depend on, and why is the speed highest?"]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    path = build_tiny("qwen2_5_vl", tmp_path_factory.mktemp("rollout") / "tiny")
    model = AutoModelForImageTextToText.from_pretrained(path).eval()
    proc = AutoProcessor.from_pretrained(path)
    rows = []
    for seed, q in enumerate(QUESTIONS):  # two prompts of different lengths, each with its own 4-frame video
        arr = np.random.default_rng(seed).integers(0, 256, size=(4, 56, 56, 3), dtype=np.uint8)
        frames = Frames("v", "0" * 64, [0.0, 0.5, 1.0, 1.5], arr, fps=2.0, total_num_frames=4, duration_s=2.0)
        ex = Example("p", "multiple choice", q, ["A. one", "B. two"], "<answer>A</answer>", "")
        text = proc.apply_chat_template(prompt_messages(ex), add_generation_prompt=True, tokenize=False)
        enc = video_inputs(proc, [text], [frames])
        rows.append((enc["input_ids"][0].tolist(), {k: enc[k] for k in PER_VIDEO if k in enc}))
    return model, proc, rows


def engine(model, proc, temperature):
    return FastRollout(model, [model.generation_config.eos_token_id], proc.tokenizer.pad_token_id,
                       vision_token_ids(proc, model), temperature=temperature,
                       mm_token_type_ids=proc.create_mm_token_type_ids)


def test_greedy_tokens_equal_hf_generate(tiny):
    model, proc, rows = tiny
    g = 3  # rollouts per prompt: rows of one prompt share its prefix
    ids = [r[0] for r in rows for _ in range(g)]
    videos = [r[1] for r in rows for _ in range(g)]
    assert groups_of(ids, videos) == [(0, g), (g, 2 * g)]
    out = engine(model, proc, 0.0).generate(ids, videos, max_new=24)
    assert out.attention == "math" and not out.cuda_graph and out.decode_steps >= 1
    suppress = vision_token_ids(proc, model)
    for i, (prompt, video) in enumerate(rows):
        x = torch.tensor([prompt])
        ref = model.generate(input_ids=x, attention_mask=torch.ones_like(x),
                             mm_token_type_ids=torch.tensor(proc.create_mm_token_type_ids([prompt])), **video,
                             do_sample=False, max_new_tokens=24, suppress_tokens=suppress)[0, x.size(1):].tolist()
        eos = model.generation_config.eos_token_id
        ref = ref[:ref.index(eos) + 1] if eos in ref else ref
        assert len(ref) >= 8
        for r in range(i * g, (i + 1) * g):
            assert out.tokens[r] == ref, f"row {r}: fast {out.tokens[r]} != generate {ref}"
    assert not set(suppress) & {t for row in out.tokens for t in row}


def test_sampled_logps_match_scoring(tiny):
    model, proc, rows = tiny
    torch.manual_seed(0)
    ids, videos = [rows[1][0]] * 4, [rows[1][1]] * 4
    out = engine(model, proc, 1.0).generate(ids, videos, max_new=16, record_logps=True)
    assert len({tuple(t) for t in out.tokens}) > 1  # rollouts of one prompt differ when sampled
    for row, lps in zip(out.tokens, out.logps):
        full = torch.tensor([ids[0] + row])
        with torch.no_grad():
            logits = model(input_ids=full, attention_mask=torch.ones_like(full), **videos[0],
                           mm_token_type_ids=torch.tensor(proc.create_mm_token_type_ids(full.tolist()))).logits
        ref = torch.log_softmax(logits[0, len(ids[0]) - 1:-1].float(), -1).gather(-1, torch.tensor(row)[:, None])
        assert torch.allclose(ref[:, 0], torch.tensor(lps), atol=1e-4), (ref[:, 0], lps)


def test_grpo_trainer_fast_rollout(tiny, tmp_path):
    """VideoGRPOTrainer(fast_rollout=True): its rollouts' generation-time log-probs equal the video-aware scoring."""
    from train.grpo import GRPOParams, build_trainer
    from train.synthetic import write_dataset
    model, proc, _ = tiny
    rl = write_dataset(tmp_path / "data", n=2, sft=False)
    p = GRPOParams(model="unused", data=str(rl), out=str(tmp_path / "out"), frames=4, num_generations=4,
                   per_device_batch=4, effective_batch=1, max_completion_length=12, record_generation_logps=True,
                   fast_rollout=True)
    trainer = build_trainer(p, model=model, processor=proc)
    out = trainer._generate_and_score_completions(next(iter(trainer.get_train_dataloader())))
    ids = torch.cat([out["prompt_ids"], out["completion_ids"]], 1)
    mask = torch.cat([out["prompt_mask"], out["completion_mask"]], 1)
    tokens = out["completion_mask"].bool()
    with torch.no_grad():
        trainer._active_videos = out["video_inputs"]
        ours, _, _ = trainer._get_per_token_logps_and_entropies(trainer.model, ids, mask, ids.size(1) - out[
            "prompt_ids"].size(1))
    assert tokens.sum() > 0 and trainer.last_rollout.decode_steps >= 1  # the fast path made these rollouts
    assert (ours - out["sampling_per_token_logps"])[tokens].abs().max().item() < 1e-4
