"""The review page's FastAPI app: one sample at a time for the expert, verdicts, and the error-rate summary.

Mounted by plugins/videokr_review.py under /review in Airflow's api-server (the Airflow UI shows it under Browse);
tests build it with `create_app(settings)`. Every route but the static files checks the Airflow token (auth.py).
"""
from __future__ import annotations

import html
import threading
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import Depends, FastAPI, HTTPException, Request, status
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, Field

from videokr.review_app import auth
from videokr.review_app.frames import frame_jpeg
from videokr.settings import Settings

STATIC = Path(__file__).parent / "static"


class VerdictBody(BaseModel):
    sample_id: str = Field(max_length=64)
    verdict: str = Field(max_length=16)
    kind: str | None = Field(default=None, max_length=40)
    note: str | None = Field(default=None, max_length=4000)
    # no reviewer field: the reviewer is the token's user (extra fields are ignored)


class _State:
    """Lazily opened warehouse shared by the app's requests (one DuckDB connection, used under a lock)."""

    def __init__(self, settings: Settings | None):
        self._settings = settings
        self._wh = None
        self.lock = threading.Lock()

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            self._settings = Settings.load()
        return self._settings

    @property
    def review(self) -> dict:
        return self.settings.section("review")

    @property
    def wh(self):
        if self._wh is None:
            from warehouse import Warehouse
            self._wh = Warehouse(self.settings)
        return self._wh

    def close(self) -> None:
        if self._wh is not None:
            self._wh.close()
            self._wh = None


def create_app(settings: Settings | None = None) -> FastAPI:
    st = _State(settings)

    @asynccontextmanager
    async def lifespan(_app):      # Airflow's api-server enters mounted apps' lifespans
        yield
        st.close()

    app = FastAPI(title="videokr review", docs_url=None, redoc_url=None, openapi_url=None, lifespan=lifespan)
    app.state.review = st
    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    async def user(request: Request) -> auth.Reviewer:
        return await auth.current_user(request, st.review)

    async def reviewer(request: Request) -> auth.Reviewer:
        u = await user(request)
        if not u.can_review:
            raise HTTPException(status.HTTP_403_FORBIDDEN,
                                f"user {u.name!r} (roles {', '.join(u.roles) or 'none'}) is not a reviewer; "
                                f"reviewers have a role in [review] reviewer_roles or are in reviewer_users")
        auth.check_csrf(request, u.name)
        return u

    @app.get("/", response_class=HTMLResponse)
    async def page(request: Request):
        try:
            await user(request)
        except HTTPException as exc:
            login = html.escape(auth.login_url(next_url=str(request.url)))
            return HTMLResponse(f'<!doctype html><title>Review: log in</title><p>{html.escape(exc.detail)}. '
                                f'<a href="{login}" target="_top">Log in to Airflow</a></p>', exc.status_code)
        return HTMLResponse((STATIC / "index.html").read_text())

    @app.get("/api/me")
    async def me(u: auth.Reviewer = Depends(user)):
        return {"user": u.name, "roles": list(u.roles), "can_review": u.can_review,
                "csrf_token": auth.csrf_token(u.name)}

    @app.get("/api/steps")
    def steps(u: auth.Reviewer = Depends(user)):
        from jobs.review import samples
        with st.lock:
            mine = samples.judged(st.wh, u.name)
            df = st.wh.query("SELECT step, list(sample_id) AS ids FROM review_samples GROUP BY step ORDER BY step")
        return [{"step": r["step"], "total": len(r["ids"]), "judged": sum(s in mine for s in r["ids"])}
                for r in df.iter_rows(named=True)]

    @app.get("/api/sample")
    def sample(step: str | None = None, pos: int | None = None, u: auth.Reviewer = Depends(user)):
        """The sample at `pos` of this reviewer's shuffled queue (default: their first unjudged one)."""
        from jobs.review import samples
        with st.lock:
            order = samples.queue(st.wh, u.name, step)
            mine = samples.judged(st.wh, u.name)
            if not order:
                return {"total": 0, "judged": 0, "pos": None, "sample": None, "step": step}
            if pos is None:
                pos = next((i for i, s in enumerate(order) if s not in mine), len(order) - 1)
            pos = max(0, min(pos, len(order) - 1))
            shown = samples.sample(st.wh, order[pos])
        mine_v = mine.get(order[pos])
        return {"total": len(order), "judged": sum(s in mine for s in order), "pos": pos, "step": step,
                "done": all(s in mine for s in order), "sample": shown,
                "verdict": None if mine_v is None else {k: mine_v[k] for k in ("verdict", "kind", "note")}}

    @app.get("/api/samples/{sample_id}/frames/{i}")
    def frame(sample_id: str, i: int, size: str = "thumb", u: auth.Reviewer = Depends(user)):
        from jobs.review import samples
        with st.lock:
            try:
                path, stamps = samples.video_of(st.wh, sample_id)
            except KeyError:
                raise HTTPException(404, f"no review sample {sample_id!r}") from None
        return frame_jpeg(path, stamps, i, size, f"sample {sample_id}")

    @app.post("/api/verdicts", status_code=201)
    def verdict(body: VerdictBody, u: auth.Reviewer = Depends(reviewer)):
        from jobs.review import samples
        try:
            with st.lock:
                row = samples.add_verdict(st.wh, body.sample_id, u.name, body.verdict, body.kind, body.note)
        except KeyError as exc:
            raise HTTPException(404, str(exc)) from None
        except ValueError as exc:
            raise HTTPException(422, str(exc)) from None
        return {**row, "judged_at": row["judged_at"].isoformat()}

    @app.get("/api/summary")
    def summary(u: auth.Reviewer = Depends(user)):
        """Per step: each model's error rate with its 95% Wilson interval, kappa, and the selection or why none."""
        from jobs.review import samples, selection
        with st.lock:
            verdicts = samples.verdict_rows(st.wh)
            per_step = samples.models_per_step(st.wh)
        return JSONResponse(selection.summarize(verdicts, per_step, st.review))

    from videokr.review_app.reannotate import router as reannotation     # the evaluation set's re-annotation task
    app.include_router(reannotation(st, user, reviewer))
    return app
