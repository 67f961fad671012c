"""collect: knowledge points -> YouTube search (CC, captioned) -> video details, within the daily quota."""
from airflow.sdk import AssetOrTimeSchedule, CronTriggerTimetable, Param

from dags.common import asset, stage_dag

dag = stage_dag(
    "collect",
    # on every knowledge-bank update, and daily just after YouTube's quota reset (midnight Pacific) to continue
    schedule=AssetOrTimeSchedule(timetable=CronTriggerTimetable("15 0 * * *", timezone="America/Los_Angeles"),
                                 assets=asset("knowledge_points")),
    outlets=["videos", "search_queries", "api_usage"],
    tags=["stage:2-collect", "youtube", "quota"],
    pool="youtube_api",
    connections={"youtube_api": ("VIDEOKR_YOUTUBE_API_KEY", None)},
    params={"max_pages": Param(1, type="integer", minimum=1, maximum=10,
                               description="search.list pages (50 results each) per keyword"),
            "keywords_per_kp": Param(3, type="integer", minimum=1, description="keywords searched per knowledge point"),
            "retry_failed": Param(False, type="boolean", description="search again the queries that failed"),
            "expand_keywords": Param(None, type=["null", "boolean"],
                                     description="add model-proposed keywords (role generator, cached); "
                                                 "empty: [collect] expand_keywords")},
    doc_md="""
### collect
**Reads** `knowledge_points`. For each point in scope, searches its keywords (YouTube `search.list`: Creative
Commons, closed captions, English; 100 units a call) and fetches details in batches of 50 (`videos.list`, 1 unit).
**Writes** `search_queries`, `search_hits`, `videos` (ineligible ones kept with `reject_reason`) and the quota
ledger `api_usage`.

**Quota.** The run stops cleanly when the daily budget (`[youtube] daily_budget`, default 10,000 units per key)
would be exceeded or YouTube answers `quotaExceeded`. The daily schedule (00:15 Pacific, after the quota reset)
continues the backlog; finished queries are never repeated. `videokr quota` shows today's use. Pool `youtube_api`.

**Keywords.** The bank's keywords, plus, with `expand_keywords`, up to `[collect] expand_keywords_max` more per
point proposed by the `generator` model role (cached: a rerun pays nothing).

**Credentials.** `VIDEOKR_YOUTUBE_API_KEY`, or the password of Airflow connection `youtube_api`.
Emits `warehouse://videos`, which schedules `screen`.
""",
)
