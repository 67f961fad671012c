"""One model-frames path: the generator, every solver, the CoT validator, the trainer's collator and the evaluator
see the same instants of a video for the same frame budget (the ones the frames stage stored), and the same pixels
where the pixel budget is the same."""
from __future__ import annotations

import base64

import cv2
import numpy as np
from transformers import AutoProcessor

from jobs import frames, generate, verify
from jobs.media.model_frames import Budget, load
from tests.integration.test_generate import Recording, seed_world, world_scenes
from tests.unit.frames_media import render_video
from train.collate import VideoSFTCollator
from train.data import frames_for, video_inputs
from train.tiny import build_tiny

N = 4


def _stamps(req) -> list[float]:
    return [p["frame"]["t"] for p in req.messages[1]["content"] if p["type"] == "image_url"]


def _jpegs(req) -> list[np.ndarray]:
    return [cv2.imdecode(np.frombuffer(base64.b64decode(p["image_url"]["url"].split(",", 1)[1]), np.uint8),
                         cv2.IMREAD_COLOR) for p in req.messages[1]["content"] if p["type"] == "image_url"]


def test_every_consumer_decodes_the_stored_instants(settings, wh, tmp_path):
    from warehouse import stage_run
    scenes = world_scenes()
    seed_world(wh, scenes)
    mp4 = render_video(tmp_path / "v.mp4", seconds=9, fps=12, size=(160, 96), gop_s=3.0, seed=2, slide_s=2.0)
    with stage_run(wh, "fixture") as r:
        r.write("downloads", [{"video_id": "phys0000001", "subject_id": "physics", "path": str(mp4), "status": "ok"}])
    frames.run(settings, params={"paths": {"phys0000001": {"path": str(mp4), "subject_id": "physics"}},
                                 "workers": 1, "frame_budgets": [N]})
    stored = wh.query("SELECT timestamps FROM model_frames WHERE video_id = 'phys0000001' AND budget_frames = ?",
                      [N]).item()
    stored = list(stored)
    assert len(stored) == N and stored == sorted(stored)

    model = Recording(scenes)
    generate.run(settings, subjects=["physics"], params={"attach_frames": True, "n_frames": N}, offline_model=model)
    gen = [r for r in model.requests if r.context.get("video_id") == "phys0000001"]
    model.requests.clear()
    verify.run(settings, subjects=["physics"], params={"attach_frames": True, "n_frames": N, "k": 2, "n": 2, "m": 1},
               offline_model=model)
    mine = [r for r in model.requests if r.context.get("video_id") == "phys0000001"]
    by_role: dict[str, list] = {}
    for r in gen + mine:
        by_role.setdefault(r.role, []).append(r)
    assert set(by_role) == {"generator", "solver", "blind_solver", "cot_validator"}
    for role in ("generator", "solver", "cot_validator"):
        assert all(_stamps(r) == stored for r in by_role[role]), role
    blind = [_stamps(r) for r in by_role["blind_solver"]]        # single frames, each one of those same frames
    assert all(len(b) == 1 and b[0] in stored for b in blind) and len({b[0] for b in blind}) >= 2
    assert all(r.context["frame_times"] == _stamps(r) for r in by_role["blind_solver"] + by_role["solver"])
    ref = _jpegs(by_role["generator"][0])        # same pixel budget: the very same pixels for every role
    for r in by_role["solver"] + by_role["cot_validator"]:
        assert all(np.array_equal(a, b) for a, b in zip(_jpegs(r), ref))

    processor = AutoProcessor.from_pretrained(build_tiny("qwen2_5_vl", tmp_path / "tiny"))
    collator_frames = frames_for(processor, str(mp4), N, 4096, stored)          # the collator's call, export stamps
    evaluator_frames = frames_for(processor, str(mp4), N, 4096)                 # the evaluator's call, no stamps
    assert collator_frames.timestamps == evaluator_frames.timestamps == stored
    assert np.array_equal(collator_frames.array, evaluator_frames.array)
    direct = load(mp4, Budget(frames=N, max_video_tokens=4096, factor=28, temporal_patch=2), stored)
    assert np.array_equal(direct.array, collator_frames.array)
    row = {"problem_id": "p1", "problem_type": "multiple choice", "question": "Which?", "options": ["A. x", "B. y"],
           "solution": "<answer>A</answer>", "think": "because", "video_path": str(mp4),
           "frame_budget": N, "frame_timestamps": stored}
    batch = VideoSFTCollator(processor, n_frames=N)([row])
    text = processor.apply_chat_template([{"role": "user", "content": [{"type": "video"}, {"type": "text",
                                                                                          "text": "x"}]}],
                                         tokenize=False)
    expect = video_inputs(processor, [text], [direct])["pixel_values_videos"]
    assert np.array_equal(batch["pixel_values_videos"].numpy(), expect.numpy())
