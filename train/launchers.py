"""How a training or evaluation job runs: a local subprocess (default), a Docker container, or a Kubernetes pod.

    job = TrainJob("train.sft", {"model": base, "data": sft_jsonl, "out": out_dir}, gpus=8)
    result = run_local(job)                      # really runs `python -m train.sft ...` (torchrun when gpus > 1)
    kwargs = docker_spec(job, image="videokr-gpu:0.1", mounts={"/srv/videokr": "/srv/videokr"})
        # -> DockerOperator(**kwargs) (apache-airflow-providers-docker); device_requests as data, see below
    kwargs = kubernetes_spec(job, image="registry/videokr-gpu:0.1", namespace="videokr", pvc="videokr-home")
        # -> KubernetesPodOperator(**kwargs) (apache-airflow-providers-cncf-kubernetes)

The specs are plain JSON-able data so they can be rendered and checked without Docker or a cluster.
`materialize_docker(kwargs)` / `materialize_kubernetes(kwargs)` turn the nested dicts into the `docker.types` and
`kubernetes.client` objects those operators want, when those packages are installed on the Airflow worker.
"""
from __future__ import annotations

import logging
import os
import shlex
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

log = logging.getLogger("videokr.launch")
MODULES = ("train.sft", "train.grpo", "train.evaluate")
LAUNCHERS = ("local", "docker", "kubernetes")
WORKDIR = "/opt/videokr"                     # where docker/worker-gpu.Dockerfile installs the project


@dataclass
class TrainJob:
    module: str                               # train.sft | train.grpo | train.evaluate
    args: dict                                # CLI options: {"model": ..., "frames": [16, 32], "record": True}
    gpus: int = 1
    env: dict = field(default_factory=dict)   # extra environment (VIDEOKR_HOME, HF_HUB_OFFLINE, ...)
    name: str | None = None

    def __post_init__(self):
        if self.module not in MODULES:
            raise ValueError(f"unknown training module {self.module!r}; expected one of {MODULES}")

    @property
    def job_name(self) -> str:
        base = self.name or f"videokr-{self.module.split('.')[-1]}"
        return base.lower().replace("_", "-").replace(".", "-")[:63]


def cli_args(args: dict) -> list[str]:
    """{"max_steps": 3, "frames": [16, 32], "record": True, "bf16": False} -> --max-steps 3 --frames 16 32 ..."""
    out = []
    for k, v in args.items():
        flag = "--" + k.replace("_", "-")
        if v is None:
            continue
        if isinstance(v, bool):
            if v:
                out.append(flag)
            elif k == "bf16":  # bf16 defaults to "on when a GPU supports it"; False must be explicit
                out.append("--no-bf16")
        elif isinstance(v, (list, tuple)):
            out += [flag, *map(str, v)]
        else:
            out += [flag, str(v)]
    return out


def command(job: TrainJob, python: str = "python") -> list[str]:
    """The container/pod command: python -m <module> ... ; torchrun for several GPUs (not for evaluation)."""
    if job.gpus > 1 and job.module != "train.evaluate":
        return ["torchrun", "--standalone", f"--nproc_per_node={job.gpus}", "-m", job.module, *cli_args(job.args)]
    return [python, "-m", job.module, *cli_args(job.args)]


def job_env(job: TrainJob) -> dict[str, str]:
    env = {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    if "VIDEOKR_HOME" in os.environ:
        env["VIDEOKR_HOME"] = os.environ["VIDEOKR_HOME"]
    env.update({k: str(v) for k, v in job.env.items()})
    return env


def run_local(job: TrainJob, cwd: str | Path | None = None, timeout: float | None = None,
              log_path: str | Path | None = None) -> dict:
    """Run the job as a subprocess of this interpreter (the default launcher); raise on a non-zero exit."""
    cmd = command(job, python=sys.executable)
    if cmd[0] == "torchrun":
        cmd = [sys.executable, "-m", "torch.distributed.run", *cmd[1:]]
    env = {**os.environ, **job_env(job)}
    cwd = Path(cwd) if cwd else Path(__file__).resolve().parents[1]
    log.info("launch local: %s", shlex.join(cmd))
    started = time.time()
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    output = proc.stdout + proc.stderr
    if log_path:
        Path(log_path).write_text(output)
    result = {"launcher": "local", "command": cmd, "returncode": proc.returncode, "stdout": proc.stdout,
              "tail": output[-4000:], "seconds": round(time.time() - started, 2)}
    if proc.returncode != 0:
        raise RuntimeError(f"{job.module} exited with {proc.returncode}:\n{output[-4000:]}")
    return result


def docker_spec(job: TrainJob, image: str, mounts: dict[str, str] | None = None, shm_size: str = "64g",
                docker_url: str = "unix://var/run/docker.sock", pool: str = "gpu") -> dict:
    """DockerOperator kwargs: the job's command on `image`, all or `gpus` NVIDIA GPUs, host folders bind-mounted."""
    return {
        "task_id": job.job_name.replace("-", "_"),
        "image": image,
        "command": command(job),
        "environment": job_env(job),
        "device_requests": [{"driver": "nvidia", "count": job.gpus, "capabilities": [["gpu"]]}],
        "mounts": [{"source": src, "target": dst, "type": "bind", "read_only": False}
                   for src, dst in (mounts or {}).items()],
        "shm_size": shm_size,                   # NCCL and dataloaders need a large /dev/shm
        "ipc_mode": "host",
        "docker_url": docker_url,
        "auto_remove": "success",
        "mount_tmp_dir": False,
        "network_mode": "bridge",
        "working_dir": WORKDIR,
        "pool": pool,
        "retries": 1,
    }


def kubernetes_spec(job: TrainJob, image: str, namespace: str = "videokr", pvc: str | None = "videokr-home",
                    home: str = "/srv/videokr", cpu: str = "8", memory: str = "64Gi", shm: str = "64Gi",
                    node_selector: dict | None = None, service_account: str | None = None,
                    pool: str = "gpu") -> dict:
    """KubernetesPodOperator kwargs: one pod, `gpus` nvidia.com/gpu, the warehouse home from a PVC, a big /dev/shm."""
    gpu = str(job.gpus)
    volumes = [{"name": "dshm", "emptyDir": {"medium": "Memory", "sizeLimit": shm}}]
    mounts = [{"name": "dshm", "mountPath": "/dev/shm"}]
    if pvc:
        volumes.append({"name": "home", "persistentVolumeClaim": {"claimName": pvc}})
        mounts.append({"name": "home", "mountPath": home})
    env = {**job_env(job), "VIDEOKR_HOME": home} if pvc else job_env(job)
    cmd = command(job)
    return {
        "task_id": job.job_name.replace("-", "_"),
        "name": job.job_name,
        "namespace": namespace,
        "image": image,
        "cmds": cmd[:1],
        "arguments": cmd[1:],
        "env_vars": env,
        "container_resources": {"limits": {"nvidia.com/gpu": gpu, "cpu": cpu, "memory": memory},
                                "requests": {"nvidia.com/gpu": gpu, "cpu": cpu, "memory": memory}},
        "volumes": volumes,
        "volume_mounts": mounts,
        "node_selector": node_selector or {"nvidia.com/gpu.present": "true"},
        "tolerations": [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}],
        "service_account_name": service_account,
        "image_pull_policy": "IfNotPresent",
        "get_logs": True,
        "on_finish_action": "delete_succeeded_pod",
        "startup_timeout_seconds": 1800,        # GPU nodes may scale up from zero
        "labels": {"app": "videokr", "videokr/module": job.module.split(".")[-1]},
        "pool": pool,
        "retries": 1,
    }


def materialize_docker(kwargs: dict) -> dict:
    """Replace device_requests/mounts dicts by docker.types objects (needs the `docker` package)."""
    from docker.types import DeviceRequest, Mount
    out = dict(kwargs)
    out["device_requests"] = [DeviceRequest(**d) for d in kwargs["device_requests"]]
    out["mounts"] = [Mount(**m) for m in kwargs["mounts"]]
    return out


def materialize_kubernetes(kwargs: dict) -> dict:
    """Replace resources/volumes/tolerations dicts by kubernetes.client models (needs `kubernetes`)."""
    from kubernetes.client import ApiClient, models as k8s
    api = ApiClient()

    def build(data, kind):
        return api._ApiClient__deserialize(data, kind)  # the client's own dict -> model conversion
    out = dict(kwargs)
    out["container_resources"] = k8s.V1ResourceRequirements(**kwargs["container_resources"])
    out["volumes"] = [build(v, "V1Volume") for v in kwargs["volumes"]]
    out["volume_mounts"] = [build(m, "V1VolumeMount") for m in kwargs["volume_mounts"]]
    out["tolerations"] = [build(t, "V1Toleration") for t in kwargs["tolerations"]]
    return out


def launch(job: TrainJob, launcher: str = "local", **kwargs) -> dict:
    """Run locally, or return the operator spec for docker/kubernetes (the DAG builds the operator from it)."""
    if launcher == "local":
        return run_local(job, **kwargs)
    if launcher == "docker":
        return docker_spec(job, **kwargs)
    if launcher == "kubernetes":
        return kubernetes_spec(job, **kwargs)
    raise ValueError(f"unknown launcher {launcher!r}; expected one of {LAUNCHERS}")
