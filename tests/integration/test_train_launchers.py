"""The train DAG with `launcher = kubernetes` builds valid pods and with `docker` runs valid containers: the stage's
real prepare step on a small warehouse, the DAG's own mapped operators unmapped with its specs (what the task runner
does), the pod built by the operator's dry-run path into kubernetes client models, the container created through
DockerOperator.execute against a loopback Docker Engine API (the far end only), checked against the GPU worker image."""
from __future__ import annotations

import json
import re
import struct
import threading
from pathlib import Path
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import yaml

from videokr.settings import REPO_ROOT, Settings

DOCKERFILE = (REPO_ROOT / "docker" / "worker-gpu.Dockerfile").read_text()
COMPOSE = yaml.safe_load((REPO_ROOT / "docker" / "docker-compose.yaml").read_text())
DNS_1123 = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")


def _qa(cid: str, vid: str) -> dict:
    return {"candidate_id": cid, "video_id": vid, "kp_id": "kp-1", "subject_id": "physics",
            "skill": "basic_video_reasoning", "problem_type": "multiple choice", "question": f"Question {cid}?",
            "options": ["A. one", "B. two"], "answer": "A", "think": f"because {cid}"}


def _world(home, monkeypatch, train_toml: str) -> Settings:
    """A warehouse with verified, split examples, and videokr.toml's [train] section."""
    cfg = home / "videokr.toml"
    cfg.write_text('[train]\nbase = "/models/Qwen2.5-VL-7B-Instruct"\n' + train_toml)
    monkeypatch.setenv("VIDEOKR_CONFIG", str(cfg))
    settings = Settings.load()
    from jobs import split
    from warehouse import Warehouse
    (home / "media").mkdir()
    with Warehouse(settings) as wh:
        vids = [f"v{i:02d}" for i in range(12)]
        for v in vids:                                    # the export takes only videos it can place
            (home / "media" / f"{v}.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42")
        wh.write("verified_qa", [_qa(f"qa-{v}-{j}", v) for v in vids for j in range(2)], "test")
        wh.write("downloads", [{"video_id": v, "subject_id": "physics", "path": str(home / "media" / f"{v}.mp4"),
                                "status": "ok"} for v in vids], "test")
    split.run(settings, params={"seed": 3})
    return settings


def _train_dag(settings: Settings):
    from videokr.cli import airflow_env
    airflow_env.apply(settings)
    from airflow.dag_processing.dagbag import DagBag
    bag = DagBag(dag_folder=str(REPO_ROOT / "dags" / "train.py"))
    assert not bag.import_errors, bag.import_errors
    return bag.dags["train"]


def _launch_task(dag, step: str, operator_class):
    mapped = dag.get_task(f"work.{step}")
    assert mapped.operator_class is operator_class
    kw = mapped.partial_kwargs
    assert kw["queue"] == "gpu" and kw["pool"] == "gpu" and kw["retries"] >= 1
    assert kw["trigger_rule"] == "none_failed"      # GRPO still runs when the mode has no SFT (Zero-RL)
    return mapped


def test_kubernetes_launcher_builds_valid_pods(home, monkeypatch, capsys):
    from airflow.providers.cncf.kubernetes.operators.pod import KubernetesPodOperator
    from kubernetes.client import ApiClient, models as k8s

    import train.stage as stage
    settings = _world(home, monkeypatch, """launcher = "kubernetes"
gpus = 8
save_steps = 50
namespace = "ml"
pvc = "videokr-home"
image = "registry.example/videokr/worker-gpu:0.4"
node_selector = {"gpu.nvidia.com/class" = "H200"}
tolerations = [{key = "nvidia.com/gpu", operator = "Exists", effect = "NoSchedule"},
               {key = "dedicated", operator = "Equal", value = "training", effect = "NoExecute"}]
""")
    dag = _train_dag(settings)
    prepared = stage.prepare(settings)                    # the body of the DAG's work.prepare task
    json.dumps(prepared)                                  # plain XCom data
    assert [len(prepared["launches"][s]) for s in ("sft", "grpo")] == [1, 1]
    assert (Path(prepared["export"]) / "sft.jsonl").read_text().count("\n") > 0     # planned on exported rows
    api = ApiClient()
    for step in ("sft", "grpo"):
        op = _launch_task(dag, step, KubernetesPodOperator).unmap(prepared["launches"][step][0])
        pod = op.build_pod_request_obj(dry_run=True)
        assert isinstance(pod, k8s.V1Pod) and pod.metadata.namespace == "ml" and DNS_1123.fullmatch(pod.metadata.name)
        c = pod.spec.containers[0]
        assert c.image == "registry.example/videokr/worker-gpu:0.4" and c.working_dir == "/opt/videokr"
        assert c.resources.limits["nvidia.com/gpu"] == "8" and c.resources.requests["nvidia.com/gpu"] == "8"
        assert c.command == ["torchrun"] and c.args[:4] == ["--standalone", "--nproc_per_node=8", "-m", f"train.{step}"]
        assert "--resume" in c.args and c.args[c.args.index("--save-steps") + 1] == "50"
        out = c.args[c.args.index("--out") + 1]
        assert out.startswith("/data/videokr/runs/") and out.endswith(f"/{step}")     # the worker's home, remapped
        assert pod.spec.node_selector == {"gpu.nvidia.com/class": "H200"}
        assert {(t.key, t.effect) for t in pod.spec.tolerations} == {("nvidia.com/gpu", "NoSchedule"),
                                                                    ("dedicated", "NoExecute")}
        volumes = {v.name: v for v in pod.spec.volumes}
        assert volumes["home"].persistent_volume_claim.claim_name == "videokr-home"
        assert {m.name: m.mount_path for m in c.volume_mounts} == {"home": "/data/videokr", "dshm": "/dev/shm"}
        env = {e.name: e.value for e in c.env}
        assert env["VIDEOKR_HOME"] == "/data/videokr" and env["VIDEOKR_LAUNCHER"] == "kubernetes"
        body = api.sanitize_for_serialization(pod)        # what the operator would POST
        again = api._ApiClient__deserialize(body, "V1Pod")
        assert again.spec.containers[0].resources.limits == c.resources.limits
    capsys.readouterr()
    op.dry_run()                                          # the operator's own dry run prints the pod
    out = capsys.readouterr().out
    printed = yaml.safe_load(out[out.index("api_version: v1"):])   # the client model's to_dict(): snake_case
    assert printed["kind"] == "Pod" and printed["spec"]["containers"][0]["args"] == c.args
    # the stage result says what was launched; finish refuses when a pod left no model
    assert [(d["module"], d["launcher"], d["gpus"]) for d in prepared["launched"]] == [
        ("train.sft", "kubernetes", 8), ("train.grpo", "kubernetes", 8)]
    assert prepared["launched"][0]["pod"] == "videokr-sft" and prepared["launched"][0]["command"][0] == "torchrun"
    with pytest.raises(RuntimeError, match="train.sft \\(kubernetes\\): no run summary"):
        stage.finish(settings, prepared)


class _Engine(BaseHTTPRequestHandler):
    """The Docker Engine API's far end: records container creation, streams the container's log lines."""
    created: list = []
    started = threading.Event()
    LOG = b"[sft] step 1/2 loss 1.5\n"

    def log_message(self, *a):
        pass

    def _json(self, code: int, body) -> None:
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_HEAD(self):
        self.do_GET()

    def do_GET(self):
        path = re.sub(r"^/v[0-9.]+", "", self.path.split("?")[0])
        if path == "/_ping":
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"OK")
        elif path == "/version":
            self._json(200, {"ApiVersion": "1.45", "Version": "27.0.0"})
        elif path == "/images/json":
            self._json(200, [{"Id": "sha256:1", "RepoTags": [self.created_image]}])
        elif path == "/containers/c1/json":
            self._json(200, {"Id": "c1", "Config": {"Tty": False}})
        else:
            self._json(404, {"message": f"no {path}"})

    def do_POST(self):
        path = re.sub(r"^/v[0-9.]+", "", self.path.split("?")[0])
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if path == "/containers/create":
            type(self).created.append(json.loads(body))
            self._json(201, {"Id": "c1", "Warnings": []})
        elif path == "/containers/c1/attach":          # raw stream: headers now, frames once started, then EOF
            self.send_response(200)
            self.send_header("Content-Type", "application/vnd.docker.raw-stream")
            self.end_headers()
            self.wfile.flush()
            self.started.wait(10)
            self.wfile.write(struct.pack(">BxxxL", 1, len(self.LOG)) + self.LOG)
            self.close_connection = True
        elif path == "/containers/c1/start":
            self.send_response(204)
            self.end_headers()
            self.started.set()
        elif path == "/containers/c1/wait":
            self._json(200, {"StatusCode": 0})
        else:
            self._json(404, {"message": f"no {path}"})

    def do_DELETE(self):
        self.send_response(204)
        self.end_headers()


def test_docker_launcher_runs_the_gpu_image_command(home, monkeypatch):
    from airflow.providers.docker.operators.docker import DockerOperator

    import train.stage as stage
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Engine)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    image = COMPOSE["services"]["worker-gpu"]["image"]
    _Engine.created_image = image
    settings = _world(home, monkeypatch, f"""launcher = "docker"
mode = "sft"
gpus = 2
home = "/data/videokr"
docker_url = "tcp://127.0.0.1:{server.server_port}"
""")
    try:
        dag = _train_dag(settings)
        prepared = stage.prepare(settings)
        assert prepared["launches"]["grpo"] == [] and len(prepared["launches"]["sft"]) == 1   # mode sft: no GRPO
        op = _launch_task(dag, "sft", DockerOperator).unmap(prepared["launches"]["sft"][0])
        op.execute({})
    finally:
        server.shutdown()
    [c] = _Engine.created
    assert c["Image"] == image and c.get("Entrypoint") in (None, [])            # the image's own, no entrypoint
    assert not re.search(r"^ENTRYPOINT", DOCKERFILE, re.M)
    assert c["WorkingDir"] == re.findall(r"^WORKDIR (\S+)", DOCKERFILE, re.M)[-1]
    assert c["Cmd"][:5] == ["torchrun", "--standalone", "--nproc_per_node=2", "-m", "train.sft"]
    assert (REPO_ROOT / "train" / "sft.py").is_file() and re.search(r"^COPY train ", DOCKERFILE, re.M)
    assert "apache-airflow[celery,postgres,redis,docker,cncf.kubernetes]==3.3.2" in DOCKERFILE   # runs the operators
    host = c["HostConfig"]
    assert host["DeviceRequests"] == [{"Driver": "nvidia", "Count": 2, "Capabilities": [["gpu"]], "DeviceIDs": [],
                                       "Options": {}}]
    assert host["Mounts"] == [{"Source": str(settings.home), "Target": "/data/videokr", "Type": "bind",
                               "ReadOnly": False}]
    assert host["IpcMode"] == "host" and host["ShmSize"] >= 2**30
    env = dict(e.split("=", 1) for e in c["Env"])
    assert env["VIDEOKR_HOME"] == "/data/videokr" and env["VIDEOKR_LAUNCHER"] == "docker"
    assert re.search(r"^ENV .*VIDEOKR_HOME=/data/videokr", DOCKERFILE, re.M)
    paths = [a for a in c["Cmd"] if a.startswith("/")]
    assert paths and all(p.startswith("/data/videokr/") for p in paths if not p.startswith("/models/"))
    assert "--resume" in c["Cmd"]
    assert prepared["launched"][0] | {"command": None} == prepared["launched"][0] | {
        "module": "train.sft", "launcher": "docker", "image": image, "gpus": 2, "command": None,
        "mounts": [f"{settings.home}:/data/videokr"]}


def test_outside_the_dag_only_local_launches(home, monkeypatch):
    import train.stage as stage
    cfg = home / "videokr.toml"
    cfg.write_text('[train]\nlauncher = "docker"\n')
    monkeypatch.setenv("VIDEOKR_CONFIG", str(cfg))
    with pytest.raises(RuntimeError, match="runs as a task of the train/evaluate DAG \\(a DockerOperator\\)"):
        stage.run(Settings.load())
