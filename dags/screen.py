"""screen: download, captions, moderation, text + visual relevance, one decision per video."""
from airflow.sdk import Param

from dags.common import asset, stage_dag

dag = stage_dag(
    "screen",
    schedule=[asset("videos")],
    outlets=["screening"],
    tags=["stage:2-collect", "screen", "moderation", "llm"],
    phases=[("download", None), ("moderate", "moderation_api"), ("relevance", "llm_api"), ("decide", None)],
    connections={"azure_content_safety": ("VIDEOKR_AZURE_CONTENT_SAFETY_KEY", "VIDEOKR_AZURE_CONTENT_SAFETY_ENDPOINT")},
    params={"rescreen": Param(False, type="boolean", description="redo every check, not only the missing ones")},
    doc_md="""
### screen
**Reads** eligible `videos` in scope. Four phases, each its own task and pool (`videokr run`: one task, in order):

1. **download** - yt-dlp (mp4 <= 720p, English captions else automatic ones, download archive) or the sample
   library -> `downloads`, `captions`; zero-byte, truncated and corrupt files fail the `media` check.
2. **moderate** (pool `moderation_api`) - title, description, captions and sampled frames through Azure AI
   Content Safety (or the offline stand-in).
3. **relevance** (pool `llm_api`) - text relevance (offline MiniLM embeddings) and visual relevance (role
   `relevance_judge` on frames).
4. **decide** - **writes** one `screening` row per video: `keep` or `reject` with every reason.

Each phase only does the videos missing its check, so a retry or rerun pays nothing twice. Rows kept and
rejected per reason: `SELECT * FROM v_screening_reasons`. Emits `warehouse://screening`.
""",
)
