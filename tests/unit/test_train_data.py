"""Frame decoding under the frame/token budget, VideoKR JSONL loading, benchmark-format loaders, letter extraction."""
from pathlib import Path

import numpy as np
import pytest

from jobs.media.model_frames import Budget, frame_size, load
from train.data import VideoDecodeError, load_jsonl, prompt_text, target_text
from train.eval_sets import load_eval_set
from train.evaluate import extract_letter
from train.synthetic import COLOURS, write_dataset, write_video

BENCH = Path(__file__).resolve().parents[3] / "shared" / "benchmarks"


@pytest.mark.parametrize("n", [1, 16, 32, 64, 128])
def test_frame_size_keeps_video_within_4096_tokens(n):
    h, w = frame_size(720, 1280, n)
    assert h % 28 == 0 and w % 28 == 0
    tokens = -(-n // 2) * (h // 28) * (w // 28)
    assert tokens <= 4096
    assert abs(w / h - 1280 / 720) < 0.35          # aspect kept


def decode_frames(path: str, n_frames: int):
    return load(path, Budget(frames=n_frames, max_video_tokens=4096))


def test_decode_frames_uniform_and_resized(tmp_path):
    path = write_video(tmp_path / "v.mp4", "C", seconds=2.0, fps=8, size=56)
    f = decode_frames(str(path), n_frames=4)
    assert f.array.shape == (4, 56, 56, 3) and f.array.dtype == np.uint8
    assert f.frames_indices == sorted(f.frames_indices) and len(set(f.frames_indices)) == 4
    assert f.fps == 8.0 and f.total_num_frames == 16
    row = f.array[0, 28]                              # the square's colour is visible in the decoded frame
    assert any(np.abs(px.astype(int) - COLOURS["C"]).max() < 40 for px in row)
    many = decode_frames(str(path), n_frames=500)     # at most 2 frames per second: never a repeated frame
    assert many.array.shape[0] == 4 and many.timestamps == f.timestamps


def test_decode_errors_name_the_file(tmp_path):
    with pytest.raises(VideoDecodeError, match="missing.mp4: missing_file"):
        decode_frames(str(tmp_path / "missing.mp4"), 4)
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"\x00" * 100)
    with pytest.raises(VideoDecodeError, match="bad.mp4"):
        decode_frames(str(bad), 4)


def test_load_jsonl_and_prompts(tmp_path):
    path = write_dataset(tmp_path, n=4, sft=True)
    exs = load_jsonl(path)
    assert [e.problem_type for e in exs] == ["multiple choice"] * 3 + ["open-ended"]
    assert Path(exs[0].video_path).is_file()          # relative paths resolved against the JSONL's folder
    assert "A. red" in prompt_text(exs[0]) and "letter of the correct option" in prompt_text(exs[0])
    assert "letter of the correct option" not in prompt_text(exs[3])
    assert target_text(exs[0]) == "<think>The square in every frame is red.</think><answer>A</answer>"
    assert target_text(exs[3]) == "<think>The square in every frame is yellow.</think><answer>the square is yellow</answer>"
    (tmp_path / "broken.jsonl").write_text('{"problem_id": 1}\n')
    with pytest.raises(ValueError, match="broken.jsonl:1"):
        load_jsonl(tmp_path / "broken.jsonl")


@pytest.mark.skipif(not (BENCH / "mmvu" / "validation.json").is_file(), reason="shared benchmarks not present")
def test_benchmark_loaders_on_the_real_files():
    mmvu = load_eval_set(BENCH / "mmvu" / "validation.json", video_root="/nonexistent")
    assert len(mmvu) == 1000
    assert sum(i.problem_type == "multiple choice" for i in mmvu) == 625
    mc = next(i for i in mmvu if i.problem_type == "multiple choice")
    assert mc.options[0].startswith("A. ") and mc.answer in "ABCDE" and mc.subject
    assert mc.video_path.endswith(".mp4") and "/nonexistent/" in mc.video_path
    vm = load_eval_set(BENCH / "videommmu" / "perception_video.json", video_root="/v")
    assert len(vm) == 300 and vm[0].dataset == "videommmu/perception"
    assert vm[0].options[0].startswith("A. ") and len(vm[0].answer) == 1 and vm[0].subject


@pytest.mark.parametrize("response,n,expected", [
    ("<think>..</think><answer>B</answer>", 4, "B"),
    ("<answer>(C) blue</answer>", 4, "C"),
    ("The answer is D.", 4, "D"),
    ("answer: b", 4, "B"),
    ("I pick option A because", 4, "A"),
    ("E", 4, None),                                   # not a valid option letter
    ("G. 4, 5", 10, "G"),
    ("no idea", 4, None),
])
def test_extract_letter(response, n, expected):
    assert extract_letter(response, n) == expected
