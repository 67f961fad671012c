"""`python -m train.pipeline` options: JSON overrides of the tiny defaults reach the planned jobs' arguments."""
import pytest

from train.launchers import cli_args
from train.pipeline import TINY_ARGS, TINY_FRAMES, parse, plan

BASE = ["--sft", "s.jsonl", "--rl", "r.jsonl", "--eval", "e.jsonl", "--runs", "/runs/x"]


def _plan(argv):
    a, args = parse(argv)
    return args, plan(a.sft, a.rl, a.eval, a.base or "/runs/x/base-tiny", a.runs, a.mode,
                      frames=tuple(args["frames"]), sft_args=args["sft"], grpo_args=args["grpo"],
                      eval_args=args["eval"], record=not a.no_record)


def test_tiny_defaults_unchanged():
    args, jobs = _plan(BASE + ["--tiny"])
    assert args["sft"] == TINY_ARGS["sft"] and args["grpo"] == TINY_ARGS["grpo"] and args["tiny"] == {}
    assert args["frames"] == TINY_FRAMES
    assert [j.module for j in jobs] == ["train.sft", "train.grpo"] + ["train.evaluate"] * 3
    assert jobs[0].args["record"] is True


def test_overrides_reach_the_plan():
    args, jobs = _plan(BASE + ["--tiny", "--no-record", "--frames", "16", "32",
                               "--tiny-args", '{"hidden": 256, "layers": 4}',
                               "--sft-args", '{"lr": 3e-4, "epochs": 20, "max_steps": -1, "frames": 16}',
                               "--grpo-args", '{"max_steps": 40, "num_generations": 8}',
                               "--eval-args", '{"max_new_tokens": 256, "limit": null}'])
    sft, grpo, *evals = jobs
    assert args["tiny"] == {"hidden": 256, "layers": 4}
    assert sft.args["lr"] == 3e-4 and sft.args["epochs"] == 20 and sft.args["max_steps"] == -1
    assert sft.args["effective_batch"] == TINY_ARGS["sft"]["effective_batch"]       # untouched keys keep defaults
    assert grpo.args["max_steps"] == 40 and grpo.args["num_generations"] == 8 and grpo.args["model"] == sft.args["out"]
    assert grpo.args["max_completion_length"] == TINY_ARGS["grpo"]["max_completion_length"]
    for job in evals:
        assert job.args["frames"] == [16, 32] and job.args["max_new_tokens"] == 256 and job.args["record"] is False
        assert "--limit" not in cli_args(job.args)                                  # null drops the tiny limit
    assert "--record" not in cli_args(sft.args) and "--lr" in cli_args(sft.args)


def test_overrides_without_tiny_and_bad_json():
    args, jobs = _plan(["--base", "/m/base", "--runs", "/r", "--sft", "s", "--rl", "r",
                        "--sft-args", '{"lr": 1e-4}'])
    assert args["sft"] == {"lr": 1e-4} and args["grpo"] == {} and args["frames"] == [16, 32, 64, 128]
    assert jobs[0].args["model"] == "/m/base"
    with pytest.raises(SystemExit):
        parse(BASE + ["--tiny", "--sft-args", "[1, 2]"])
    with pytest.raises(SystemExit):
        parse(["--runs", "/r"])                                                     # neither --base nor --tiny
