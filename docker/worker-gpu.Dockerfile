# GPU worker for the train and evaluate stages: CUDA base, torch, transformers, TRL, DeepSpeed, videokr.
# Two roles: the Celery worker of queue "gpu" (compose), which runs the train/evaluate launch tasks (a local
# subprocess, a DockerOperator or a KubernetesPodOperator: hence the docker and cncf.kubernetes providers), and the
# image those launchers start (`[train] image`; train.launchers.IMAGE names the compose tag).
FROM nvidia/cuda:12.8.1-cudnn-devel-ubuntu22.04
ENV DEBIAN_FRONTEND=noninteractive PIP_NO_CACHE_DIR=1 PYTHONUNBUFFERED=1 VIDEOKR_HOME=/data/videokr \
    TORCH_CUDA_ARCH_LIST="8.0;9.0" DS_BUILD_OPS=0
RUN apt-get update && apt-get install -y --no-install-recommends python3.11 python3.11-dev python3.11-venv \
        python3-pip build-essential git libpq-dev ninja-build \
    && rm -rf /var/lib/apt/lists/* && ln -sf /usr/bin/python3.11 /usr/local/bin/python
WORKDIR /opt/videokr
COPY pyproject.toml README.md ./
COPY videokr ./videokr
COPY warehouse ./warehouse
COPY jobs ./jobs
COPY dags ./dags
COPY plugins ./plugins
COPY train ./train
COPY sql ./sql
RUN python -m pip install torch==2.14.1 torchvision==0.29.1 \
    && python -m pip install -e ".[deepspeed]" "apache-airflow[celery,postgres,redis,docker,cncf.kubernetes]==3.3.2" "psycopg2-binary>=2.9"
# No ENTRYPOINT: the Docker/Kubernetes launchers pass the whole command (`python -m train.sft ...` or torchrun)
# and run it in WORKDIR with VIDEOKR_HOME mounted at /data/videokr (train.launchers.IMAGE_HOME); compose runs this
# image as an Airflow Celery worker on queue "gpu" (mount /var/run/docker.sock there for the docker launcher).
WORKDIR /opt/videokr
