"""Launcher specs: the local command, a complete DockerOperator spec and a KubernetesPodOperator spec with GPUs."""
import json

import pytest

from train.launchers import TrainJob, cli_args, command, docker_spec, kubernetes_spec, launch, launch_spec, remap

ARGS = {"model": "/srv/videokr/models/base", "data": "/srv/videokr/exports/v1/videokr/sft.jsonl",
        "out": "/srv/videokr/runs/sft", "frames": 128, "deepspeed": "zero2", "bf16": False, "resume": True,
        "record": True, "max_length": None}


def test_cli_args_and_commands():
    assert cli_args({"max_steps": 3, "frames": [16, 32], "record": True, "resume": False, "bf16": False,
                     "judge": None}) == ["--max-steps", "3", "--frames", "16", "32", "--record", "--no-bf16"]
    one = command(TrainJob("train.sft", ARGS))
    assert one[:3] == ["python", "-m", "train.sft"] and "--deepspeed" in one and "--max-length" not in one
    eight = command(TrainJob("train.grpo", ARGS, gpus=8))
    assert eight[:4] == ["torchrun", "--standalone", "--nproc_per_node=8", "-m"] and eight[4] == "train.grpo"
    assert command(TrainJob("train.evaluate", {"model": "m"}, gpus=8))[:3] == ["python", "-m", "train.evaluate"]
    with pytest.raises(ValueError, match="unknown training module"):
        TrainJob("train.nope", {})
    with pytest.raises(ValueError, match="unknown launcher"):
        launch(TrainJob("train.sft", ARGS), "slurm")
    with pytest.raises(RuntimeError, match="KubernetesPodOperator"):        # not a spec mistaken for a result
        launch(TrainJob("train.sft", ARGS), "kubernetes")


def test_docker_spec_is_complete():
    job = TrainJob("train.sft", ARGS, gpus=4, env={"WANDB_DISABLED": "true"})
    spec = docker_spec(job, image="videokr-gpu:0.1", mounts={"/data/videokr": "/srv/videokr"})
    json.dumps(spec)                                                   # plain data
    assert spec["image"] == "videokr-gpu:0.1" and spec["command"][0] == "torchrun"
    assert spec["device_requests"] == [{"driver": "nvidia", "count": 4, "capabilities": [["gpu"]]}]
    assert spec["mounts"] == [{"source": "/data/videokr", "target": "/srv/videokr", "type": "bind",
                               "read_only": False}]
    assert spec["environment"]["HF_HUB_OFFLINE"] == "1" and spec["environment"]["WANDB_DISABLED"] == "true"
    assert spec["environment"]["VIDEOKR_LAUNCHER"] == "docker" and spec["shm_size"]
    for key in ("docker_url", "auto_remove", "mount_tmp_dir", "network_mode"):
        assert key in spec


def test_kubernetes_spec_requests_gpus():
    job = TrainJob("train.grpo", ARGS, gpus=8, name="grpo-physics")
    spec = kubernetes_spec(job, image="registry.example/videokr-gpu:0.1", namespace="ml", pvc="videokr-home")
    json.dumps(spec)
    pod = spec["pod_template_dict"]["spec"]
    res = pod["containers"][0]["resources"]
    assert res["limits"]["nvidia.com/gpu"] == "8" and res["requests"]["nvidia.com/gpu"] == "8"
    assert spec["cmds"] == ["torchrun"] and "train.grpo" in spec["arguments"]
    assert spec["namespace"] == "ml" and spec["name"] == "grpo-physics"
    assert {"name": "home", "persistentVolumeClaim": {"claimName": "videokr-home"}} in pod["volumes"]
    assert {"name": "dshm", "mountPath": "/dev/shm"} in pod["containers"][0]["volumeMounts"]
    assert spec["env_vars"]["VIDEOKR_HOME"] == "/data/videokr"
    assert spec["tolerations"][0]["key"] == "nvidia.com/gpu"
    assert spec["get_logs"] is True and spec["startup_timeout_seconds"] >= 600


def test_launch_spec_remaps_the_home_and_takes_settings():
    job = TrainJob("train.sft", {"model": "/models/base", "data": "/w/home/exports/v/sft.jsonl",
                                 "out": "/w/home/runs/x/sft", "frames": [4, 8]}, env={"X": "/w/home/tmp"})
    moved = remap(job, "/w/home", "/data/videokr")
    assert moved.args["data"] == "/data/videokr/exports/v/sft.jsonl" and moved.args["model"] == "/models/base"
    assert moved.env["X"] == "/data/videokr/tmp" and job.args["out"] == "/w/home/runs/x/sft"   # job unchanged
    assert remap(TrainJob("train.sft", {"out": "/w/homework"}), "/w/home", "/d").args["out"] == "/w/homework"
    k8s = launch_spec(job, "kubernetes", {"gpus": 4, "pvc": "home-claim", "node_selector": {"pool": "h100"},
                                          "tolerations": []}, home="/w/home")
    assert "/data/videokr/runs/x/sft" in k8s["arguments"] and k8s["node_selector"] == {"pool": "h100"}
    assert k8s["tolerations"] == [] and k8s["cmds"] == ["torchrun"]
    docker = launch_spec(job, "docker", {}, home="/w/home")          # same path inside: a plain bind mount
    assert docker["mounts"] == [{"source": "/w/home", "target": "/w/home", "type": "bind", "read_only": False}]
    assert docker["environment"]["VIDEOKR_HOME"] == "/w/home" and docker["command"][0] == "python"
    local = launch_spec(job, "local", {"gpus": 2})
    assert TrainJob(**local).gpus == 2 and TrainJob(**local).args == job.args
    with pytest.raises(ValueError, match="unknown launcher"):
        launch_spec(job, "slurm")


def test_pipeline_plan_sft_then_grpo_then_evals():
    from train.pipeline import plan
    jobs = plan("s.jsonl", "r.jsonl", ["e.jsonl"], "/m/base", "/runs/x", frames=(16, 128))
    assert [j.module for j in jobs] == ["train.sft", "train.grpo"] + ["train.evaluate"] * 3
    assert jobs[1].args["model"] == jobs[0].args["out"] == "/runs/x/sft"          # GRPO starts from SFT output
    assert [j.args["model"] for j in jobs[2:]] == ["/m/base", "/runs/x/sft", "/runs/x/grpo"]
    assert jobs[2].args["frames"] == [16, 128]
    zero = plan(None, "r.jsonl", [], "/m/base", "/runs/z", mode="zero-rl")
    assert [j.module for j in zero] == ["train.grpo"] and zero[0].args["model"] == "/m/base"
