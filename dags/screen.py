"""screen: download, captions, moderation, text + visual relevance, one decision per video.

Orchestration only; the work is jobs/screen.py, run phase by phase so each phase sits in its pool.
"""
from __future__ import annotations

from airflow.sdk import Param, dag, task

from dags.common import DEFAULT_ARGS, asset, run_stage, subjects_param

OUTLETS = [asset("screening")]


def _export_secrets() -> None:
    """Airflow connections -> the environment variables the jobs read (never logged)."""
    import os
    try:
        from airflow.sdk import Connection
    except ImportError:
        return
    wanted = {"azure_content_safety": ("VIDEOKR_AZURE_CONTENT_SAFETY_KEY", "VIDEOKR_AZURE_CONTENT_SAFETY_ENDPOINT")}
    for conn_id, (key_var, host_var) in wanted.items():
        if os.environ.get(key_var):
            continue
        try:
            conn = Connection.get(conn_id)
        except Exception:  # noqa: BLE001 - not configured: the job names the variable when it needs it
            continue
        if conn.password:
            os.environ[key_var] = conn.password
        if conn.host and not os.environ.get(host_var):
            os.environ[host_var] = conn.host if "://" in conn.host else f"https://{conn.host}"


@dag(
    dag_id="screen",
    schedule=asset("videos"),
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    tags=["videokr", "stage:2-collect", "screen", "moderation", "llm"],
    params={"subjects": subjects_param(),
            "rescreen": Param(False, type="boolean", description="redo every check, not only the missing ones")},
    doc_md="""
### screen
For eligible `videos` in scope, four tasks:

1. **download** - yt-dlp (mp4 <= 720p, English captions else automatic ones, download archive) or the sample
   library -> `downloads`, `captions`, check `media` (zero-byte, truncated, corrupt files fail).
2. **moderate** (pool `moderation_api`) - title, description, captions and sampled frames through Azure AI
   Content Safety (or the offline stand-in) -> check `moderation`.
3. **relevance** (pool `llm_api`) - text relevance (offline MiniLM embeddings, threshold `[screen]
   text_threshold`) and visual relevance (role `relevance_judge` on frames) -> checks in `screening_checks`.
4. **decide** - one `screening` row per video: `keep` or `reject` with every reason.

Each task only does the videos missing its check, so a retry or rerun pays nothing twice.
Rows kept and rejected per reason: `SELECT * FROM v_screening_reasons`. Emits `warehouse://screening`.
""",
)
def screen():
    @task
    def download(**context) -> dict:
        return run_stage("screen", [], context, {"phase": "download"})

    @task(pool="moderation_api")
    def moderate(**context) -> dict:
        _export_secrets()
        return run_stage("screen", [], context, {"phase": "moderate"})

    @task(pool="llm_api")
    def relevance(**context) -> dict:
        return run_stage("screen", [], context, {"phase": "relevance"})

    @task(outlets=OUTLETS)
    def decide(**context) -> dict:
        return run_stage("screen", OUTLETS, context, {"phase": "decide"})

    download() >> moderate() >> relevance() >> decide()


screen()
