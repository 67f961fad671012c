"""Screen stage: for eligible videos, download, parse captions, moderate, judge text and visual relevance, decide.

Phases (params["phase"], default "all" = every phase in order; the DAG runs them as separate tasks in their pools):

    download   media + captions via the Downloader (yt-dlp | sample) -> downloads, captions, check `media`
    moderate   title/description/captions + sampled frames via the Moderator (azure | offline) -> check `moderation`
    relevance  text (MiniLM cosine) and visual (relevance_judge via jobs.llm) -> checks `text_relevance`,
               `visual_relevance`
    decide     one `screening` row per video: decision keep | reject | pending, and every reason

Each phase only works on videos that lack its check (`params["rescreen"]` redoes them), so reruns pay nothing twice
and an interrupted run resumes. Failed checks (a moderation error, a model-call error) are retried next run.
Config `[screen]`: text_threshold, require_visual, frames_moderation, frames_visual, batch_size, max_duration_s (a
longer file fails the media check: `too_long`).
Fail closed: a check that could not be made (a moderation error, a model error or an unavailable model layer for
visual relevance) leaves the video `pending` with the reason (`moderation_unchecked`, `visual_relevance_unchecked`),
and a later run retries it. Only an explicit `require_visual = false` keeps videos on text relevance alone (a
warning in the log and the run summary). Each batch of visual judgements commits with its ledger rows.
"""
from __future__ import annotations

import json
import logging
import time
from pathlib import Path

from jobs.screening.relevance import DEFAULT_THRESHOLD
from jobs.screening import checks as C
from jobs.screening.captions import CaptionsError, parse_vtt
from jobs.media.model_frames import load as load_frames
from videokr.settings import Settings
from warehouse import Warehouse, stage_run

log = logging.getLogger("videokr.screen")

PHASES = ("download", "moderate", "relevance", "decide")


def make_downloader(settings: Settings):
    if settings.search_source == "youtube":
        from jobs.sources.ytdlp import YtDlpDownloader
        return YtDlpDownloader(settings.section("download"))
    from jobs.sources.sample.library import SampleDownloader, build_library
    return SampleDownloader(build_library(settings))


def make_moderator(settings: Settings):
    cfg = settings.section("moderation")
    if settings.moderation_source == "azure":
        from jobs.sources.azure_safety import AzureModerator
        endpoint = Settings.secret("VIDEOKR_AZURE_CONTENT_SAFETY_ENDPOINT") or cfg.get("endpoint")
        return AzureModerator(endpoint or "", Settings.secret("VIDEOKR_AZURE_CONTENT_SAFETY_KEY") or "", cfg)
    if settings.moderation_source == "offline":
        from jobs.sources.offline_moderator import OfflineModerator
        return OfflineModerator(cfg)
    raise ValueError(f"unknown moderation_source {settings.moderation_source!r}; use 'azure' or 'offline'")


def _moderation_ledger(wh, moderator, settings: Settings):
    """The `api_usage` ledger of a moderator that logs its HTTP attempts (Azure), else None."""
    if not hasattr(moderator, "drain_calls"):
        return None
    from jobs.sources.quota import QuotaLedger, quota_config
    return QuotaLedger(wh, moderator.name, moderator.key_fingerprint, quota_config(settings, moderator.name))


def _scenes(settings: Settings):
    """video_id -> scene record lookup for the offline moderator (sample world only)."""
    if settings.search_source != "sample":
        return lambda vid: None
    from jobs.sources.sample.library import build_library
    lib = build_library(settings)

    def scene(vid):
        try:
            return lib.by_id(vid).scene
        except (KeyError, AttributeError):
            return None
    return scene


def _batches(items: list, n: int):
    for i in range(0, len(items), n):
        yield items[i:i + n]


class Screener:
    def __init__(self, wh, run, settings: Settings, subjects: list[str] | None, params: dict):
        self.wh, self.run, self.settings, self.params = wh, run, settings, params
        cfg = settings.section("screen") | params
        self.text_threshold = float(cfg.get("text_threshold", DEFAULT_THRESHOLD))
        self.require_visual = bool(cfg.get("require_visual", True))
        if not self.require_visual:
            log.warning("screen: require_visual = false: videos may be kept on text relevance alone")
        self.frames_moderation = int(cfg.get("frames_moderation", 4))
        self.frames_visual = int(cfg.get("frames_visual", 8))
        self.batch = int(cfg.get("batch_size", 100))
        self.rescreen = bool(cfg.get("rescreen", False))
        self.max_duration_s = float(cfg.get("max_duration_s", C.MAX_DURATION_S))
        self.media_dir = Path(cfg.get("media_dir") or settings.home / "media")
        self.where, self.args = (("AND v.subject_id IN (SELECT unnest(?))", [subjects]) if subjects else ("", []))
        self.counts: dict[str, int] = {}
        self.visual_status = "not run"

    def videos(self) -> list[dict]:
        return self.wh.query(f"""
            SELECT v.video_id, v.subject_id, v.kp_id, v.title, v.description, k.name AS kp_name,
                   k.statement AS kp_statement, d.path, d.error AS download_error
            FROM videos v LEFT JOIN knowledge_points k USING (kp_id) LEFT JOIN downloads d USING (video_id)
            WHERE v.eligible {self.where} ORDER BY v.subject_id, v.video_id""", self.args).to_dicts()

    def checks(self) -> dict[str, dict[str, dict]]:
        df = self.wh.query(f"""SELECT c.* EXCLUDE (run_id) FROM screening_checks c JOIN videos v USING (video_id)
                               WHERE TRUE {self.where}""", self.args)
        out: dict[str, dict[str, dict]] = {}
        for r in df.to_dicts():
            out.setdefault(r["video_id"], {})[r["check_name"]] = r
        return out

    def _todo(self, videos, check, retry_null=False, need_media=True):
        have = self.checks()
        out = []
        for v in videos:
            c = have.get(v["video_id"], {})
            if need_media and not (c.get("media") or {}).get("passed"):
                continue
            text_kp = (c.get("text_relevance") or {}).get("kp_id")
            stale = check == "visual_relevance" and check in c and c[check]["kp_id"] != text_kp
            if self.rescreen or check not in c or stale or (retry_null and c[check]["passed"] is None):
                out.append(v)
        return out

    def _candidates(self, ids: list[str]) -> dict[str, list[dict]]:
        """video_id -> the knowledge points whose searches found it."""
        df = self.wh.query("""SELECT DISTINCT h.video_id, k.kp_id, k.name, k.statement
                              FROM search_hits h JOIN knowledge_points k USING (kp_id)
                              WHERE h.video_id IN (SELECT unnest(?)) ORDER BY 1, 2""", [ids])
        out: dict[str, list[dict]] = {}
        for r in df.to_dicts():
            out.setdefault(r.pop("video_id"), []).append(r)
        return out

    def _captions(self, ids: list[str]) -> dict[str, str]:
        df = self.wh.query("SELECT video_id, text FROM captions WHERE video_id IN (SELECT unnest(?)) "
                           "ORDER BY video_id, cue_index", [ids])
        out: dict[str, list[str]] = {}
        for vid, text in df.iter_rows():
            out.setdefault(vid, []).append(text)
        return {k: " ".join(v) for k, v in out.items()}

    # ------------------------------------------------------------------ phases

    def download(self, videos):
        todo = self._todo(videos, "media", need_media=False)
        if not todo:
            return
        downloader = make_downloader(self.settings)
        self.media_dir.mkdir(parents=True, exist_ok=True)
        for batch in _batches(todo, self.batch):
            with self.run.chunk():    # the batch's downloads, captions, checks and quarantine rows: one commit
                downloads, caps, checks = [], [], []
                for v in batch:
                    d = downloader.download(v["video_id"], self.media_dir)
                    status = "ok" if d.path else ("invalid_id" if (d.error or "").startswith("invalid_id") else "failed")
                    downloads.append({"video_id": v["video_id"], "subject_id": v["subject_id"],
                                      "path": str(d.path) if d.path else None,
                                      "captions_path": str(d.captions_path) if d.captions_path else None,
                                      "bytes": d.path.stat().st_size if d.path and d.path.exists() else None,
                                      "status": status, "error": d.error, "downloader": getattr(downloader, "name", None)})
                    if not d.path:
                        self.run.quarantine(item=v["video_id"], reason=f"download_{status}", detail=d.error or "")
                    if d.captions_path:
                        try:
                            cues = parse_vtt(Path(d.captions_path).read_text(encoding="utf-8", errors="replace"))
                            caps += [c | {"video_id": v["video_id"], "subject_id": v["subject_id"]} for c in cues]
                        except (CaptionsError, OSError) as exc:
                            self.run.quarantine(item=str(d.captions_path), reason="bad_captions", detail=str(exc))
                    elif d.path:                 # collect required captions; the download found none
                        self.run.quarantine(item=v["video_id"], reason="missing_captions",
                                            detail=f"{v['video_id']}: no English captions file was downloaded")
                    check, _ = C.media(v | {"download_error": d.error}, str(d.path) if d.path else None, 1,
                                       self.max_duration_s)
                    if d.path and not check["passed"]:
                        too_long = json.loads(check["detail"]).get("reason") == "too_long"
                        self.run.quarantine(item=str(d.path), reason="media_too_long" if too_long else "corrupt_media",
                                            detail=check["detail"])
                    checks.append(check)
                self.run.write("downloads", downloads)
                self.run.write("captions", caps, scope={"video_id": [v["video_id"] for v in batch]})
                self.run.write("screening_checks", checks)
                self._count("downloaded", sum(1 for d in downloads if d["path"]))
            log.info("screen/download: %d/%d videos", self.counts.get("downloaded", 0), len(todo))

    def moderate(self, videos):
        todo = self._todo(videos, "moderation", retry_null=True)
        if not todo:
            return
        moderator, scene = make_moderator(self.settings), _scenes(self.settings)
        ledger = _moderation_ledger(self.wh, moderator, self.settings)
        have = self.checks()      # an unfinished check (an error part-way) resumes where it stopped
        for batch in _batches(todo, self.batch):
            caps = self._captions([v["video_id"] for v in batch])
            with self.run.chunk():    # the batch's checks, quarantine rows and API attempts: one commit
                rows = []
                for v in batch:
                    try:
                        frames = C.moderation_frames(v["path"], self.frames_moderation)
                    except Exception as exc:  # noqa: BLE001 - the media check passed; frames are a bonus here
                        log.warning("%s: frames for moderation failed: %s", v["video_id"], exc)
                        frames = []
                    prior = (have.get(v["video_id"], {}).get("moderation") or {}).get("detail")
                    rows.append(C.moderation(v, moderator, caps.get(v["video_id"], ""), frames, scene(v["video_id"]),
                                             json.loads(prior) if prior else None))
                    if ledger:
                        for c in moderator.drain_calls():
                            ledger.record(c["method"], c["status"], c["units"], subject_id=v["subject_id"])
                    if rows[-1]["passed"] is None:   # unchecked: pending (fail closed), retried next run
                        self.run.quarantine(item=v["video_id"], reason="moderation_failed",
                                            detail=json.loads(rows[-1]["detail"] or "{}").get("error", ""))
                self.run.write("screening_checks", rows)
                if ledger:
                    ledger.flush(self.run)
            self._count("moderated", len(rows))

    def relevance(self, videos):
        text_todo = self._todo(videos, "text_relevance")
        if text_todo:
            from jobs.screening.relevance import TextRelevance
            rel = TextRelevance.load()
            for batch in _batches(text_todo, self.batch):
                caps = self._captions([v["video_id"] for v in batch])
                cands = self._candidates([v["video_id"] for v in batch])
                rows = [C.text_relevance(v, rel, caps.get(v["video_id"], ""),
                                         sorted(cands.get(v["video_id"], []), key=lambda c: c["kp_id"] != v["kp_id"]))
                        for v in batch]
                self.run.write("screening_checks", rows)
                self._count("text_scored", len(rows))
        vis_todo = self._todo(videos, "visual_relevance", retry_null=True)
        if vis_todo:      # judged against the KP the text check chose
            have = self.checks()
            kps = {r["kp_id"]: r for r in self.wh.query(
                "SELECT kp_id, name, statement FROM knowledge_points").to_dicts()}
            for v in vis_todo:
                kp = kps.get((have.get(v["video_id"], {}).get("text_relevance") or {}).get("kp_id"))
                if kp:
                    v.update(kp_id=kp["kp_id"], kp_name=kp["name"], kp_statement=kp["statement"])
            self.visual(vis_todo)

    def visual(self, todo):
        try:
            from jobs.llm import ModelLayer
            layer = ModelLayer(self.settings, self.run, self.run.run_id)
        except Exception as exc:  # noqa: BLE001 - no model layer: 'unavailable', the videos stay pending
            self._unavailable(todo, exc)
            return
        self.visual_status = "judged"
        try:
            for batch in _batches(todo, self.batch):
                frames, ready = {}, []
                for v in batch:
                    try:
                        frames[v["video_id"]] = load_frames(v["path"], layer.frame_budget(self.frames_visual))
                        ready.append(v)
                    except Exception as exc:  # noqa: BLE001
                        log.warning("%s: frames for the relevance judge failed: %s", v["video_id"], exc)
                with self.run.chunk():     # the batch's judgements and their ledger rows: one commit
                    try:
                        results = layer.call_many(C.visual_requests(ready, frames, layer, self.settings))
                    except Exception as exc:  # noqa: BLE001 - e.g. the configured backend cannot start
                        self._unavailable(todo, exc)
                        return
                    rows = C.visual_rows(ready, results)
                    self.run.write("screening_checks", rows)
                    layer.flush()
                self._count("visual_judged", sum(1 for r in rows if r["passed"] is not None))
                self._count("visual_errors", sum(1 for r in rows if r["passed"] is None))
        finally:
            layer.close()

    def _unavailable(self, todo, exc: Exception) -> None:
        why = f"model layer unavailable: {type(exc).__name__}: {exc}"
        log.warning("screen: %s; visual relevance is not judged for %d videos (they stay pending)", why, len(todo))
        self.visual_status = "unavailable"
        self.run.write("screening_checks", C.unavailable_rows(todo, why[:500]))

    def decide(self, videos, subjects):
        have = self.checks()
        rows = [C.decide(v, have.get(v["video_id"], {}), self.text_threshold, self.require_visual) for v in videos]
        self.run.write("screening", rows, scope={"subject_id": subjects} if subjects else {})
        self._count("kept", sum(1 for r in rows if r["decision"] == "keep"))
        self._count("rejected", sum(1 for r in rows if r["decision"] == "reject"))
        self._count("pending", sum(1 for r in rows if r["decision"] == "pending"))
        reasons: dict[str, int] = {}
        for r in rows:
            for x in r["reasons"]:
                reasons[x] = reasons.get(x, 0) + 1
        return reasons

    def _count(self, k, n):
        self.counts[k] = self.counts.get(k, 0) + n


def run(settings: Settings | None = None, subjects: list[str] | None = None, params: dict | None = None) -> dict:
    settings = settings or Settings.load()
    params = dict(params or {})
    phase = params.get("phase") or "all"
    phases = PHASES if phase == "all" else (phase,)
    if any(p not in PHASES for p in phases):
        raise ValueError(f"unknown screen phase {phase!r}; phases: all, {', '.join(PHASES)}")
    t0 = time.monotonic()
    with Warehouse(settings) as wh, stage_run(wh, "screen", {"subjects": subjects or []},
                                              {k: str(v) for k, v in params.items()}) as r:
        s = Screener(wh, r, settings, subjects, params)
        reasons = None
        for p in phases:
            videos = s.videos()          # re-read: the download phase fills in paths
            if p == "decide":
                reasons = s.decide(videos, subjects)
            else:
                getattr(s, p)(videos)
            log.info("screen/%s done in %.1fs: %s", p, time.monotonic() - t0, s.counts)
        return {"run_id": r.run_id, "stage": "screen", "changed": r.changed, "phases": list(phases), "rows": dict(r.rows),
                "counts": s.counts, "reasons": reasons, "visual_relevance": s.visual_status,
                "require_visual": s.require_visual,
                "videos_in_scope": len(s.videos())}
