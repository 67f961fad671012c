"""How a training or evaluation job runs: a local subprocess (default), a Docker container, or a Kubernetes pod.

    job = TrainJob("train.sft", {"model": base, "data": sft_jsonl, "out": out_dir, "resume": True}, gpus=8)
    result = run_local(job)                  # really runs `python -m train.sft ...` (torchrun when gpus > 1),
                                             # its output streamed line by line to this process's stdout
    kwargs = launch_spec(job, "docker", options)      # -> DockerOperator(**kwargs)
    kwargs = launch_spec(job, "kubernetes", options)  # -> KubernetesPodOperator(**kwargs)

The specs are plain JSON-able operator kwargs (no airflow import here), so a stage task can return them as XCom and
the DAG maps the operator over them (dags/launchers.py); tests build the real operators from them. `options` are the
`[train]` settings: image, gpus, home (where $VIDEOKR_HOME is inside the container: paths under the worker's home are
rewritten to it), docker_url, docker_mounts, namespace, pvc, node_selector, tolerations, service_account, cpu, memory.
"""
from __future__ import annotations

import logging
import os
import shlex
import subprocess
import sys
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

log = logging.getLogger("videokr.launch")
MODULES = ("train.sft", "train.grpo", "train.evaluate")
LAUNCHERS = ("local", "docker", "kubernetes")
WORKDIR = "/opt/videokr"                     # where docker/worker-gpu.Dockerfile installs the project
IMAGE = "videokr/worker-gpu:latest"           # docker/docker-compose.yaml builds it from docker/worker-gpu.Dockerfile
IMAGE_HOME = "/data/videokr"                  # the image's VIDEOKR_HOME
WAREHOUSE_ENV = ("VIDEOKR_HOME", "VIDEOKR_CATALOG_URL", "VIDEOKR_DATA_PATH")  # the job records into the warehouse
GPU_TOLERATION = {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}


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

    def to_dict(self) -> dict:
        return asdict(self)

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
    """Offline hubs, unbuffered output (lines reach the task log as they are printed), the warehouse settings."""
    env = {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false",
           "PYTHONUNBUFFERED": "1"}
    for name in WAREHOUSE_ENV:
        if os.environ.get(name):
            env[name] = os.environ[name]
    env.update({k: str(v) for k, v in job.env.items()})
    return env


def _pump(stream, sink: list[str], echo) -> None:
    for line in stream:
        sink.append(line)
        if echo is not None:
            echo.write(line)
            echo.flush()


def run_local(job: TrainJob, cwd: str | Path | None = None, timeout: float | None = None,
              log_path: str | Path | None = None, echo: bool = True) -> dict:
    """Run the job as a subprocess of this interpreter (the default launcher); its stdout/stderr lines are echoed
    as they come (in an Airflow task: the task log); raise on a non-zero exit."""
    cmd = command(job, python=sys.executable)
    if cmd[0] == "torchrun":
        cmd = [sys.executable, "-m", "torch.distributed.run", *cmd[1:]]
    env = {**os.environ, **job_env(job), "VIDEOKR_LAUNCHER": "local"}
    cwd = Path(cwd) if cwd else Path(__file__).resolve().parents[1]
    log.info("launch local: %s", shlex.join(cmd))
    started = time.time()
    proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            bufsize=1)
    out: list[str] = []
    err: list[str] = []
    pumps = [threading.Thread(target=_pump, args=(proc.stdout, out, sys.stdout if echo else None), daemon=True),
             threading.Thread(target=_pump, args=(proc.stderr, err, sys.stderr if echo else None), daemon=True)]
    for t in pumps:
        t.start()
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        raise
    finally:
        for t in pumps:
            t.join(30)
    stdout, stderr = "".join(out), "".join(err)
    output = stdout + stderr
    if log_path:
        Path(log_path).write_text(output)
    result = {"launcher": "local", "command": cmd, "returncode": proc.returncode, "stdout": stdout,
              "tail": output[-4000:], "seconds": round(time.time() - started, 2)}
    if proc.returncode != 0:
        raise RuntimeError(f"{job.module} exited with {proc.returncode}:\n{output[-4000:]}")
    return result


def remap(job: TrainJob, home: str | Path | None, target: str | None) -> TrainJob:
    """The job with paths under `home` (the worker's $VIDEOKR_HOME) rewritten to `target` (the container's)."""
    if not home or not target or str(home) == str(target):
        return job
    src = str(Path(home)).rstrip("/")

    def move(v):
        if isinstance(v, str) and (v == src or v.startswith(src + "/") or v.startswith("sqlite:" + src + "/")):
            return v.replace(src, target.rstrip("/"), 1)
        if isinstance(v, (list, tuple)):
            return [move(x) for x in v]
        return v
    return TrainJob(job.module, {k: move(v) for k, v in job.args.items()}, job.gpus,
                    {k: move(v) for k, v in job.env.items()}, job.name)


def docker_spec(job: TrainJob, image: str = IMAGE, mounts: dict[str, str] | None = None, shm_size: str = "64g",
                docker_url: str = "unix://var/run/docker.sock") -> dict:
    """DockerOperator kwargs: the job's command on `image` (its WORKDIR, no entrypoint), `gpus` NVIDIA GPUs through
    the NVIDIA container toolkit, host folders bind-mounted ({host: container})."""
    return {
        "image": image,
        "command": command(job),
        "environment": job_env(job) | {"VIDEOKR_LAUNCHER": "docker"},
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
        "labels": {"app": "videokr", "videokr/module": job.module.split(".")[-1], "videokr/job": job.job_name},
    }


def kubernetes_spec(job: TrainJob, image: str = IMAGE, namespace: str = "videokr", pvc: str | None = "videokr-home",
                    home: str = IMAGE_HOME, cpu: str = "8", memory: str = "64Gi", shm: str = "64Gi",
                    node_selector: dict | None = None, tolerations: list[dict] | None = None,
                    service_account: str | None = None) -> dict:
    """KubernetesPodOperator kwargs: one pod, `gpus` nvidia.com/gpu, $VIDEOKR_HOME from a PVC, a big /dev/shm.
    Volumes, mounts and resources travel as `pod_template_dict` (a templated field the operator deserializes with
    the kubernetes client's models), since mapped-task XCom carries plain data, not client objects."""
    gpu = str(job.gpus)
    volumes = [{"name": "dshm", "emptyDir": {"medium": "Memory", "sizeLimit": shm}}]
    mounts = [{"name": "dshm", "mountPath": "/dev/shm"}]
    if pvc:
        volumes.append({"name": "home", "persistentVolumeClaim": {"claimName": pvc}})
        mounts.append({"name": "home", "mountPath": home})
    env = job_env(job) | {"VIDEOKR_LAUNCHER": "kubernetes"} | ({"VIDEOKR_HOME": home} if pvc else {})
    cmd = command(job)
    resources = {"cpu": cpu, "memory": memory, "nvidia.com/gpu": gpu}
    return {
        "name": job.job_name,
        "namespace": namespace,
        "image": image,
        "cmds": cmd[:1],
        "arguments": cmd[1:],
        "env_vars": env,
        "pod_template_dict": {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": job.job_name}, "spec": {
            "containers": [{"name": "base", "image": image, "workingDir": WORKDIR, "volumeMounts": mounts,
                            "resources": {"limits": resources, "requests": resources}}],
            "volumes": volumes}},
        "node_selector": dict(node_selector) if node_selector is not None else {"nvidia.com/gpu.present": "true"},
        "tolerations": list(tolerations) if tolerations is not None else [GPU_TOLERATION],
        "service_account_name": service_account,
        "image_pull_policy": "IfNotPresent",
        "get_logs": True,
        "on_finish_action": "delete_succeeded_pod",
        "startup_timeout_seconds": 1800,        # GPU nodes may scale up from zero
        "labels": {"app": "videokr", "videokr/module": job.module.split(".")[-1]},
    }


def launch_spec(job: TrainJob, launcher: str, options: dict | None = None, home: str | Path | None = None) -> dict:
    """What the DAG's launch task gets for `job`: the job itself (local) or the operator kwargs (docker/kubernetes)
    from the `[train]` options. Paths under `home` (this worker's $VIDEOKR_HOME) become paths under the container's
    home (`home` option; kubernetes: the image's, docker: the same path unless docker_mounts say otherwise)."""
    o = dict(options or {})
    if launcher == "local":
        return TrainJob(job.module, job.args, int(o.get("gpus") or job.gpus), job.env, job.name).to_dict()
    env = {n: os.environ[n] for n in WAREHOUSE_ENV if os.environ.get(n)} | job.env
    job = TrainJob(job.module, job.args, int(o.get("gpus") or job.gpus), env, job.name)
    image = o.get("image") or IMAGE
    if launcher == "docker":
        target = o.get("home") or (str(home) if home else IMAGE_HOME)
        mounts = o.get("docker_mounts") or ({str(home): target} if home else {})
        job = remap(job, home, target)
        job = TrainJob(job.module, job.args, job.gpus, {**job.env, "VIDEOKR_HOME": target}, job.name)
        return docker_spec(job, image, mounts, o.get("shm_size", "64g"),
                           o.get("docker_url", "unix://var/run/docker.sock"))
    if launcher == "kubernetes":
        target = o.get("home") or IMAGE_HOME
        return kubernetes_spec(remap(job, home, target), image, o.get("namespace", "videokr"),
                               o.get("pvc", "videokr-home"), target, str(o.get("cpu", "8")),
                               str(o.get("memory", "64Gi")), str(o.get("shm", "64Gi")), o.get("node_selector"),
                               o.get("tolerations"), o.get("service_account"))
    raise ValueError(f"unknown launcher {launcher!r}; expected one of {LAUNCHERS}")


def launch(job: TrainJob, launcher: str = "local", **kwargs) -> dict:
    """Run a job here (local). Docker and Kubernetes jobs run as the DAG's operator tasks (see launch_spec): this
    process cannot start them."""
    if launcher == "local":
        return run_local(job, **kwargs)
    if launcher in LAUNCHERS:
        raise RuntimeError(f"launcher {launcher!r}: {job.module} runs as a task of the train/evaluate DAG "
                           f"(a {'DockerOperator' if launcher == 'docker' else 'KubernetesPodOperator'}); "
                           f"trigger the DAG, or use launcher = \"local\" outside Airflow")
    raise ValueError(f"unknown launcher {launcher!r}; expected one of {LAUNCHERS}")
