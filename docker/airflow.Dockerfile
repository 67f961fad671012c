# Airflow image with videokr installed: scheduler, dag-processor, triggerer, api-server and Celery workers
# (CPU stages: collect, screen, frames, generate, verify, decontaminate, split, export).
FROM python:3.11-slim-bookworm
ENV PIP_NO_CACHE_DIR=1 PYTHONUNBUFFERED=1 AIRFLOW_HOME=/data/videokr/airflow VIDEOKR_HOME=/data/videokr
RUN apt-get update && apt-get install -y --no-install-recommends build-essential libpq-dev git \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /opt/videokr
COPY pyproject.toml README.md ./
COPY videokr ./videokr
COPY warehouse ./warehouse
COPY jobs ./jobs
COPY dags ./dags
COPY plugins ./plugins
COPY train ./train
COPY sql ./sql
# torch first (pinned), then the project: its dependencies carry Airflow's celery/postgres/redis extras and the
# celery pin the Celery provider needs. The repository lives at /opt/videokr (docker-compose's DAG and plugin paths).
RUN pip install torch==2.14.1 torchvision==0.29.1 --index-url https://download.pytorch.org/whl/cpu \
    && pip install -e .
ENV AIRFLOW__CORE__DAGS_FOLDER=/opt/videokr/dags AIRFLOW__CORE__PLUGINS_FOLDER=/opt/videokr/plugins \
    AIRFLOW__CORE__LOAD_EXAMPLES=False
RUN useradd --create-home --uid 50000 airflow && mkdir -p /data/videokr/airflow && chown -R airflow /data/videokr
USER airflow
ENTRYPOINT ["airflow"]
CMD ["api-server"]
