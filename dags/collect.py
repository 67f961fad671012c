"""collect: knowledge points -> YouTube search (CC, captioned) -> video details, within the daily quota.

Orchestration only; the work is jobs/collect.py.
"""
from __future__ import annotations

from airflow.sdk import AssetOrTimeSchedule, CronTriggerTimetable, Param, dag, task

from dags.common import DEFAULT_ARGS, asset, run_stage, subjects_param

OUTLETS = [asset("videos"), asset("search_queries"), asset("api_usage")]


def _export_youtube_key() -> None:
    """Put the `youtube_api` connection's password into VIDEOKR_YOUTUBE_API_KEY for the job (never logged)."""
    import os
    if os.environ.get("VIDEOKR_YOUTUBE_API_KEY"):
        return
    try:
        from airflow.sdk import Connection
        conn = Connection.get("youtube_api")
    except Exception:  # noqa: BLE001 - no connection: the job says which variable to set
        return
    if conn and conn.password:
        os.environ["VIDEOKR_YOUTUBE_API_KEY"] = conn.password


@dag(
    dag_id="collect",
    # on every knowledge-bank update, and daily just after YouTube's quota reset (midnight Pacific) to continue
    schedule=AssetOrTimeSchedule(
        timetable=CronTriggerTimetable("15 0 * * *", timezone="America/Los_Angeles"),
        assets=asset("knowledge_points")),
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    tags=["videokr", "stage:2-collect", "youtube", "quota"],
    params={"subjects": subjects_param(),
            "max_pages": Param(1, type="integer", minimum=1, maximum=10,
                               description="search.list pages (50 results each) per keyword"),
            "keywords_per_kp": Param(3, type="integer", minimum=1, description="keywords searched per knowledge point"),
            "retry_failed": Param(False, type="boolean", description="search again the queries that failed")},
    doc_md="""
### collect
For each knowledge point in scope, searches its keywords (YouTube `search.list`: Creative Commons, closed
captions, English; 100 units a call) and fetches details in batches of 50 (`videos.list`, 1 unit). Writes
`search_queries`, `search_hits`, `videos` (ineligible ones with `reject_reason`) and the quota ledger `api_usage`.

**Quota.** The run stops cleanly (task succeeds, `stopped` in its return value) when the daily budget
(`[youtube] daily_budget`, default 10,000 units per key) would be exceeded or YouTube answers `quotaExceeded`.
The daily schedule (00:15 Pacific, after the quota reset) continues the backlog; finished queries are never
repeated. See today's use with `videokr quota`. Pool `youtube_api` (1 slot) keeps runs from sharing a key at once.

**Credentials.** `VIDEOKR_YOUTUBE_API_KEY`, or the password of Airflow connection `youtube_api`.
Emits `warehouse://videos`, which schedules `screen`.
""",
)
def collect():
    @task(outlets=OUTLETS, pool="youtube_api")
    def search_and_detail(**context) -> dict:
        _export_youtube_key()
        return run_stage("collect", OUTLETS, context)

    search_and_detail()


collect()
