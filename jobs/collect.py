"""Collect stage: knowledge points -> keywords -> search (CC, captioned) -> video details -> videos.

Writes `search_queries`, `search_hits`, `videos` and the quota ledger `api_usage`. Collection is quota-bound and
spans days: every search costs units against a daily budget per API key (jobs/sources/quota.py). The run stops cleanly
when the next call would exceed the budget or YouTube answers quotaExceeded; the next run resumes with the
queries not yet done (a `partial` query continues from its saved page token) and never repeats a `done` one.
Ids found but not yet detailed (e.g. the budget ran out between search and details) are detailed first next time.

Videos over the duration limit, not Creative Commons, without captions, unavailable or live are recorded with
`eligible = false` and a `reject_reason`, never dropped. A video found by several knowledge points belongs to the
first one (in bank order); later hits stay in `search_hits`.

Writes are merges by natural key (incremental across days), checkpointed every `checkpoint_units` units so a
crash loses at most that much ledger. Params: max_pages, keywords_per_kp, max_duration_s, checkpoint_units,
expand_keywords (+ expand_keywords_max): extra keywords per point from the `generator` role (jobs/kb/keywords.py).
"""
from __future__ import annotations

import hashlib
import logging
import time

from jobs.kb import keywords as keyword_expansion
from jobs.sources.quota import QuotaLedger, quota_config
from jobs.sources.youtube import VIDEO_ID_RE, BudgetReached, QuotaExceeded, YouTubeError, attribution
from videokr.settings import Settings
from warehouse import Warehouse, stage_run
from warehouse.runs import fingerprint

log = logging.getLogger("videokr.collect")

MAX_DURATION_S = 30 * 60


def query_id(kp_id: str, keyword: str) -> str:
    return "q-" + hashlib.sha1(f"{kp_id}/{keyword.strip().lower()}".encode()).hexdigest()[:12]


def make_source(settings: Settings):
    """The configured SearchSource: `youtube` (needs VIDEOKR_YOUTUBE_API_KEY) or `sample` (offline library)."""
    if settings.search_source == "youtube":
        from jobs.sources.youtube import YouTubeSearch
        key = Settings.secret("VIDEOKR_YOUTUBE_API_KEY") or Settings.secret("YOUTUBE_API_KEY")
        return YouTubeSearch(key or "", settings.section("youtube"))
    if settings.search_source == "sample":
        from jobs.sources.sample.library import SampleSearch, build_library
        return SampleSearch(build_library(settings))
    raise ValueError(f"unknown search_source {settings.search_source!r}; use 'youtube' or 'sample'")


def keywords(kp: dict, limit: int, extra: list[str] = ()) -> list[str]:
    """The bank's keywords (or the name), `limit` of them, then any model-proposed extras, without repeats."""
    return keyword_expansion.unique(keyword_expansion.bank_keywords(kp)[:limit] + list(extra))


def eligibility(meta: dict | None, max_duration_s: float) -> tuple[list[str], str]:
    """Failed collect filters for a details record (None = not returned by videos.list), and a readable detail."""
    if meta is None:
        return ["unavailable"], "not returned by videos.list (private, deleted or bad id)"
    reasons, details = [], []
    if meta.get("live"):
        reasons.append("live"), details.append("live or upcoming broadcast")
    if meta.get("license") != "creativeCommon":
        reasons.append("license"), details.append(f"license {meta.get('license')!r} is not creativeCommon")
    dur = meta.get("duration_s")
    if dur is None or dur > max_duration_s:
        reasons.append("duration"), details.append(f"duration {dur} s > {max_duration_s:.0f} s"
                                                   if dur is not None else "duration unknown")
    if not meta.get("has_captions"):
        reasons.append("captions"), details.append("no captions")
    if meta.get("privacy_status") not in (None, "public", "unlisted"):
        reasons.append("unavailable"), details.append(f"privacy {meta.get('privacy_status')}")
    return reasons, "; ".join(details)


def video_row(vid: str, item: dict | None, owner: dict, max_duration_s: float) -> dict:
    meta = attribution(item) if item is not None else None
    reasons, detail = eligibility(meta, max_duration_s)
    row = {k: v for k, v in (meta or {"video_id": vid, "video_url": f"https://www.youtube.com/watch?v={vid}"}).items()
           if k != "live"}
    row |= {"video_id": vid, "kp_id": owner["kp_id"], "subject_id": owner["subject_id"],
            "query_id": owner["query_id"], "eligible": not reasons,
            "reject_reason": reasons[0] if reasons else None, "reject_reasons": reasons, "reject_detail": detail or None}
    return row


class Collector:
    """One collect run: holds the source, the ledger and the rows not yet checkpointed."""

    def __init__(self, wh, run, source, settings: Settings, params: dict):
        cfg = settings.section("youtube") | settings.section("collect") | {k: v for k, v in params.items()
                                                                           if v is not None}
        self.wh, self.run, self.source, self.settings = wh, run, source, settings
        self.max_pages = int(cfg.get("max_pages", 1))
        self.per_kp = int(cfg.get("keywords_per_kp", 3))
        self.max_duration_s = float(cfg.get("max_duration_s", MAX_DURATION_S))
        self.checkpoint_units = int(cfg.get("checkpoint_units", 2000))
        flag = cfg.get("expand_keywords", False)
        self.expand = flag if isinstance(flag, bool) else str(flag).lower() in ("1", "true", "yes")
        self.expand_max = int(cfg.get("expand_keywords_max", 3))
        fp = getattr(source, "key_fingerprint", None) or source.name
        self.ledger = QuotaLedger(wh, source.name, fp, quota_config(settings, source.name) | {
            k: params[k] for k in ("daily_budget", "units") if k in params})
        if hasattr(source, "afford"):   # retries count against the budget too: units of the attempts not yet ledgered
            source.afford = lambda units: self.ledger.used + units <= self.ledger.budget
        self.queries: dict[str, dict] = {}
        self.hits: list[dict] = []
        self.videos: dict[str, dict] = {}
        self.known: set[str] = set()
        self.stop: str | None = None      # why the run stopped early: budget | quota_exceeded
        self.counts = {"queries_done": 0, "queries_partial": 0, "queries_failed": 0, "searches": 0,
                       "details_calls": 0, "videos": 0, "eligible": 0}

    # ------------------------------------------------------------------ ledger-aware calls

    def _log_calls(self, method: str, fallback_units: int, ok: bool, **ctx) -> None:
        calls = self.source.drain_calls() if hasattr(self.source, "drain_calls") else []
        if not calls and ok:
            calls = [{"method": method, "units": fallback_units, "status": "ok"}]
        for c in calls:
            self.ledger.record(c["method"], c["status"], c["units"], **ctx)

    def _search(self, q: dict):
        ctx = {"query_id": q["query_id"], "kp_id": q["kp_id"], "subject_id": q["subject_id"]}
        try:
            page = self.source.search(q["keyword"], q.get("next_page_token"), 50)
        except QuotaExceeded:
            self._log_calls("search.list", 0, False, **ctx)
            self.ledger.exhausted = True
            raise
        except Exception:
            self._log_calls("search.list", 0, False, **ctx)
            raise
        self._log_calls("search.list", page.units, True, **ctx)
        self.counts["searches"] += 1
        return page

    def _details(self, ids: list[str], owners: dict[str, dict]) -> None:
        """videos.list in batches of 50 for ids not yet detailed; stops (leaving a backlog) at the budget."""
        todo = [v for v in dict.fromkeys(ids) if v not in self.known]
        for i in range(0, len(todo), 50):
            batch = todo[i:i + 50]
            if not self.ledger.can_afford("videos.list"):
                self.stop = self.stop or "budget"
                return
            subject = owners[batch[0]]["subject_id"]
            try:
                items, units = self.source.details(batch)
            except BudgetReached:
                self._log_calls("videos.list", 0, False, subject_id=subject)
                self.stop = self.stop or "budget"
                return
            except QuotaExceeded:
                self._log_calls("videos.list", 0, False, subject_id=subject)
                self.ledger.exhausted, self.stop = True, "quota_exceeded"
                return
            except YouTubeError as exc:
                self._log_calls("videos.list", 0, False, subject_id=subject)
                for v in batch:
                    self.run.quarantine(item=v, reason="details_failed", detail=str(exc))
                continue
            self._log_calls("videos.list", units, True, subject_id=subject)
            self.counts["details_calls"] += 1
            by_id = {it.get("id"): it for it in items}
            for v in batch:
                row = video_row(v, by_id.get(v), owners[v], self.max_duration_s)
                self.videos[v] = row
                self.known.add(v)
            self.checkpoint()

    # ------------------------------------------------------------------ per query

    def collect_query(self, q: dict) -> None:
        while q["pages_fetched"] < self.max_pages and q["status"] != "done":
            if not self.ledger.can_afford("search.list"):
                self.stop = "budget"
                return
            try:
                page = self._search(q)
            except BudgetReached:
                self.stop = "budget"
                return
            except QuotaExceeded:
                self.stop = "quota_exceeded"
                return
            except YouTubeError as exc:
                q |= {"status": "failed", "error": str(exc)[:500]}
                self.queries[q["query_id"]] = q      # recorded as failed (a rerun skips it unless retry_failed)
                self.counts["queries_failed"] += 1
                self.run.quarantine(item=q["query_id"], reason="search_failed", detail=f"{q['keyword']}: {exc}")
                return
            good = [v for v in page.video_ids if VIDEO_ID_RE.match(v or "")]
            for bad in set(page.video_ids) - set(good):
                self.run.quarantine(item=str(bad)[:200], reason="invalid_video_id",
                                    detail=f"search result {str(bad)[:200]!r} is not an 11-character YouTube video id "
                                           f"([A-Za-z0-9_-]); from query {q['query_id']} ({q['keyword']!r})")
            owners = {}
            for v in good:
                self.hits.append({"query_id": q["query_id"], "rank": q["hits"], "video_id": v,
                                  "kp_id": q["kp_id"], "subject_id": q["subject_id"]})
                q["hits"] += 1
                owners[v] = q
            q["pages_fetched"] += 1
            q["next_page_token"] = page.next_page_token
            if not page.next_page_token or q["pages_fetched"] >= self.max_pages:
                q |= {"status": "done", "next_page_token": None}
            else:
                q["status"] = "partial"
            self.queries[q["query_id"]] = q
            self._details(good, owners)
            if self.stop:
                return

    def checkpoint(self, force: bool = False) -> None:
        pending_units = sum(r["units"] for r in self.ledger.pending)
        if not force and pending_units < self.checkpoint_units:
            return
        if self.queries:
            self.run.write("search_queries", [dict(q) for q in self.queries.values()])
        if self.hits:
            self.run.write("search_hits", self.hits)
        if self.videos:
            self.run.write("videos", list(self.videos.values()))
            with self.run.chunk():       # ineligible videos: set aside with the reason (one commit per checkpoint)
                for v in (r for r in self.videos.values() if not r["eligible"]):
                    self.run.quarantine(v["video_id"], f"ineligible_{v['reject_reason']}",
                                        f"video {v['video_id']}: {v['reject_detail']}")
            self.counts["videos"] += len(self.videos)
            self.counts["eligible"] += sum(1 for r in self.videos.values() if r["eligible"])
        self.ledger.flush(self.run)
        self.queries, self.hits, self.videos = {}, [], {}


OWNER_MODEL = "minilm-l6-v2 cosine, rank, bank order"   # part of each owner decision's fingerprint


def reassign_owners(wh, run, where: str, args: list) -> int:
    """Give each video in scope to the knowledge point, among those whose searches found it, that it fits best.

    Several knowledge points' searches can find one video (the 'natural selection' query finds a selection-sort
    video). With one candidate nothing changes; with several, the candidate whose name + statement is closest to
    the video's title + description (MiniLM cosine, jobs/screening/relevance.py) wins, ties broken by search rank then bank
    order. A video whose candidates, texts and owner are unchanged since its last decision is not decided again (no
    model load, no embedding). Returns (videos that changed owner, videos decided).
    """
    cands = wh.query(f"""
        SELECT h.video_id, h.kp_id, h.subject_id, min(h.rank) AS rank, arg_min(h.query_id, h.rank) AS query_id,
               any_value(k.name) AS name, any_value(k.statement) AS statement,
               any_value([k.subject_id, k.course_id, k.lecture_id, lpad(k.position::VARCHAR, 6, '0')]) AS bank_order
        FROM search_hits h JOIN knowledge_points k USING (kp_id)
        WHERE h.video_id IN (SELECT video_id FROM videos {where})
        GROUP BY h.video_id, h.kp_id, h.subject_id""", args).to_dicts()
    by_video: dict[str, list[dict]] = {}
    for c in cands:
        by_video.setdefault(c["video_id"], []).append(c)
    multi = {v: cs for v, cs in by_video.items() if len({c["kp_id"] for c in cs}) > 1}
    if not multi:
        return 0, 0
    videos = {r["video_id"]: r for r in wh.query(
        "SELECT * EXCLUDE (run_id) FROM videos WHERE video_id IN (SELECT unnest(?))", [list(multi)]).to_dicts()}

    def fp(vid: str, owner: str) -> str:   # the decision's inputs: unchanged ones need no model load or embedding
        v = videos[vid]
        return fingerprint(OWNER_MODEL, v.get("title"), v.get("description"), owner,
                           sorted((c["kp_id"], c["name"], c["statement"], c["rank"], c["bank_order"])
                                  for c in multi[vid]))
    have = run.fingerprints([f"owner:{v}" for v in videos])
    todo = [v for v in videos if have.get(f"owner:{v}") != fp(v, videos[v]["kp_id"])]
    if not todo:
        return 0, 0
    from jobs.screening.relevance import TextRelevance, kp_text

    rel = TextRelevance.load()
    changed, done = [], {}
    for vid in todo:
        v, cs = videos[vid], multi[vid]
        meta = f"{v.get('title') or ''}. {v.get('description') or ''}"
        emb = rel.embed([meta] + [kp_text(c["name"], c["statement"]) for c in cs])
        for c, e in zip(cs, emb[1:]):
            c["fit"] = round(float(e @ emb[0]), 4)
        best = min(cs, key=lambda c: (-c["fit"], c["rank"], c["bank_order"], c["kp_id"]))
        if best["kp_id"] != v["kp_id"]:
            changed.append(v | {"kp_id": best["kp_id"], "subject_id": best["subject_id"], "query_id": best["query_id"]})
        done[f"owner:{vid}"] = (fp(vid, best["kp_id"]), best["subject_id"])
    with run.chunk():
        if changed:
            run.write("videos", changed)
        run.mark_done(done)
    if changed:
        log.info("collect: %d videos moved to the knowledge point that fits them best", len(changed))
    return len(changed), len(todo)


def _in_scope(subjects: list[str] | None) -> tuple[str, list]:
    return ("WHERE subject_id IN (SELECT unnest(?))", [subjects]) if subjects else ("", [])


def run(settings: Settings | None = None, subjects: list[str] | None = None, params: dict | None = None,
        source=None) -> dict:
    """Collect for `subjects` (empty: all). `source` overrides the configured SearchSource (tests, notebooks)."""
    settings = settings or Settings.load()
    params = dict(params or {})
    t0 = time.monotonic()
    with Warehouse(settings) as wh:
        where, args = _in_scope(subjects)
        kps = wh.query(f"SELECT kp_id, subject_id, name, statement, keywords FROM knowledge_points {where} "
                       "ORDER BY subject_id, course_id, lecture_id, position, kp_id", args).to_dicts()
        if subjects and not kps:
            raise ValueError(f"collect: no knowledge points for subjects {subjects}; run knowledge_bank first")
        source = source or make_source(settings)
        with stage_run(wh, "collect", {"subjects": subjects or []},
                       {k: str(v) for k, v in params.items()} | {"source": source.name}) as r:
            c = Collector(wh, r, source, settings, params)
            prev = {q["query_id"]: q for q in wh.query(f"SELECT * EXCLUDE (run_id) FROM search_queries {where}",
                                                       args).to_dicts()}
            c.known = set(wh.query("SELECT video_id FROM videos")["video_id"].to_list())
            try:
                # backlog: ids already found whose details were not fetched (budget ran out between the two calls)
                backlog = wh.query(f"""SELECT h.video_id, any_value(h.kp_id ORDER BY h.query_id, h.rank) kp_id,
                                         any_value(h.subject_id) subject_id, any_value(h.query_id) query_id
                                       FROM search_hits h {where.replace('subject_id', 'h.subject_id')}
                                       GROUP BY h.video_id""", args).to_dicts()
                backlog = [b for b in backlog if b["video_id"] not in c.known]
                if backlog:
                    log.info("collect: %d found ids still need details", len(backlog))
                    c._details([b["video_id"] for b in backlog], {b["video_id"]: b for b in backlog})
                extra = keyword_expansion.expand(settings, wh, r, kps, c.expand_max, prev.values()) if c.expand else {}
                skipped = 0
                for i, kp in enumerate(kps):
                    if c.stop:
                        break
                    for kw in keywords(kp, c.per_kp, extra.get(kp["kp_id"], [])):
                        qid = query_id(kp["kp_id"], kw)
                        q = prev.get(qid) or {"query_id": qid, "kp_id": kp["kp_id"], "subject_id": kp["subject_id"],
                                              "keyword": kw, "source": source.name, "pages_fetched": 0, "hits": 0,
                                              "status": "new", "next_page_token": None, "error": None}
                        if q["status"] in ("done", "failed") and not params.get("retry_failed"):
                            skipped += 1
                            continue
                        if q["status"] == "failed":
                            q |= {"status": "partial" if q["pages_fetched"] else "new", "error": None}
                        c.collect_query(q)
                        if q["status"] in ("done", "partial"):
                            c.counts[f"queries_{q['status']}"] += 1
                        if c.stop:
                            break
                    if (i + 1) % 25 == 0:
                        log.info("collect: %d/%d knowledge points, %d units used today, %.1fs", i + 1, len(kps),
                                 c.ledger.used, time.monotonic() - t0)
            except BaseException:
                c.ledger.flush(r)    # calls already made are paid: their api_usage rows stay, even if the run dies
                raise
            c.checkpoint(force=True)
            c.counts["owners_changed"], c.counts["owners_decided"] = reassign_owners(wh, r, where, args)
            remaining = wh.query(f"SELECT count(*) n FROM search_queries {where}"
                                 f"{' AND' if where else ' WHERE'} status = 'partial'", args)["n"][0]
            if c.stop:
                log.warning("collect: stopped early (%s); %d units used of %d today; rerun to continue",
                            c.stop, c.ledger.used, c.ledger.budget)
            return {"run_id": r.run_id, "stage": "collect", "changed": r.changed, "rows": dict(r.rows), "counts": c.counts,
                    "skipped_done_queries": skipped, "stopped": c.stop, "partial_queries": int(remaining),
                    "units_used_today": c.ledger.used, "budget": c.ledger.budget,
                    "key_fingerprint": c.ledger.fingerprint, "knowledge_points": len(kps)}
