"""The API quota ledger (`api_usage`): units per call against a daily budget per API key, and `videokr quota`.

YouTube's quota day runs midnight to midnight Pacific time, so `day` is the date in America/Los_Angeles.
Configuration (`[youtube]` in videokr.toml):

    daily_budget = 10000                 # units per key per quota day
    [youtube.units]                      # units per method
    "search.list" = 100
    "videos.list" = 1
"""
from __future__ import annotations

import uuid
from datetime import date, datetime, timezone
from zoneinfo import ZoneInfo

from jobs.sources.youtube import DEFAULT_UNITS
from videokr.settings import Settings

QUOTA_TZ = ZoneInfo("America/Los_Angeles")
DEFAULT_BUDGET = 10_000
SAMPLE_DAILY_BUDGET = 10**9  # units/day for the sample source ([sample] daily_budget overrides, e.g. to rehearse a stop)


def quota_config(settings: Settings, source: str) -> dict:
    """`[youtube]` (units, daily_budget); the offline sample source charges YouTube's units but is not bound by its
    allowance, so `make run` completes in one day."""
    cfg = settings.section("youtube")
    if source == "sample":
        cfg = {"daily_budget": SAMPLE_DAILY_BUDGET} | settings.section("sample")
    if source == "azure":       # moderation attempts: billed per call, no daily allowance unless [moderation] sets one
        cfg = {"daily_budget": SAMPLE_DAILY_BUDGET} | {k: v for k, v in settings.section("moderation").items()
                                                       if k in ("daily_budget", "units")}
    return cfg


def quota_day(now: datetime | None = None) -> date:
    return (now or datetime.now(timezone.utc)).astimezone(QUOTA_TZ).date()


class QuotaLedger:
    """Today's units for one key: what the lake already holds plus calls not yet flushed."""

    def __init__(self, wh, source: str, key_fingerprint: str, config: dict | None = None):
        cfg = config or {}
        self.wh, self.source, self.fingerprint = wh, source, key_fingerprint
        self.units = DEFAULT_UNITS | dict(cfg.get("units") or {})
        self.budget = int(cfg.get("daily_budget", DEFAULT_BUDGET))
        self.day = quota_day()
        self.pending: list[dict] = []
        self.exhausted = False          # YouTube said quotaExceeded: stop for today whatever the ledger says
        df = wh.query("SELECT coalesce(sum(units), 0) AS u FROM api_usage WHERE key_fingerprint = ? AND day = ?",
                      [key_fingerprint, self.day])
        self.used_before = int(df["u"][0])

    @property
    def used(self) -> int:
        return self.used_before + sum(r["units"] for r in self.pending)

    @property
    def left(self) -> int:
        return 0 if self.exhausted else max(0, self.budget - self.used)

    def can_afford(self, method: str, calls: int = 1) -> bool:
        return not self.exhausted and self.used + calls * int(self.units.get(method, 1)) <= self.budget

    def record(self, method: str, status: str = "ok", units: int | None = None, query_id: str | None = None,
               kp_id: str | None = None, subject_id: str | None = None) -> None:
        if status == "quota_exceeded":
            self.exhausted = True
        self.pending.append({
            "call_id": uuid.uuid4().hex, "source": self.source, "key_fingerprint": self.fingerprint,
            "method": method, "units": int(self.units.get(method, 1) if units is None else units), "day": self.day,
            "status": status, "query_id": query_id, "kp_id": kp_id, "subject_id": subject_id,
            "called_at": datetime.now(timezone.utc).replace(tzinfo=None)})

    def flush(self, run) -> int:
        """Append pending rows through the stage run (call ids are uuids). Returns how many were written."""
        rows, self.pending = self.pending, []
        if rows:
            run.write("api_usage", rows, append=True)
            self.used_before += sum(r["units"] for r in rows)
        return len(rows)


def today(settings: Settings | None = None, day: date | None = None) -> list[dict]:
    """Rows of today's use per source, key and method: calls, units, failed calls, budget and what is left."""
    from warehouse import Warehouse

    settings = settings or Settings.load()
    with Warehouse(settings, read_only=False) as wh:
        df = wh.query("""
            SELECT source, key_fingerprint, method, count(*) AS calls, sum(units) AS units,
                   count(*) FILTER (WHERE status <> 'ok') AS failed,
                   sum(sum(units)) OVER (PARTITION BY source, key_fingerprint) AS key_units
            FROM api_usage WHERE day = ? GROUP BY source, key_fingerprint, method ORDER BY source, key_fingerprint, method""",
                      [day or quota_day()])
    rows = df.to_dicts()
    for r in rows:
        r["budget"] = budget = int(quota_config(settings, r["source"]).get("daily_budget", DEFAULT_BUDGET))
        r["left"] = max(0, budget - int(r.pop("key_units")))
    return rows


def format_today(settings: Settings | None = None, day: date | None = None) -> str:
    """`videokr quota`: today's (Pacific-time quota day) units per key and method against the daily budget."""
    d = day or quota_day()
    rows = today(settings, d)
    if not rows:
        return f"quota day {d} (America/Los_Angeles): no API calls recorded"
    head = f"quota day {d} (America/Los_Angeles)\n"
    cols = ("source", "key_fingerprint", "method", "calls", "failed", "units", "budget", "left")
    lines = ["  ".join(f"{c:>15}" for c in cols)]
    lines += ["  ".join(f"{str(r[c]):>15}" for c in cols) for r in rows]
    return head + "\n".join(lines)


def units_per_kept_video(settings: Settings | None = None, subjects: list[str] | None = None) -> dict:
    """All units ever spent on searches and details, divided by the videos screening kept."""
    from warehouse import Warehouse

    with Warehouse(settings or Settings.load()) as wh:
        where, params = ("WHERE subject_id IN (SELECT unnest(?))", [subjects]) if subjects else ("", [])
        units = int(wh.query(f"SELECT coalesce(sum(units),0) u FROM api_usage {where}", params)["u"][0])
        kept = int(wh.query(f"SELECT count(*) n FROM screening {where + (' AND' if where else 'WHERE')} "
                            "decision = 'keep'", params)["n"][0])
    return {"units": units, "kept": kept, "units_per_kept_video": (units / kept) if kept else None}
