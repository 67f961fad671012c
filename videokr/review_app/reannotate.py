"""The review page's re-annotation task (`videokr evalset build` sends it the benchmark items that the
video-dependency check found answerable without the video): list the tasks, show one with its frames, and take an
expert's rewrite (question, options, answer grounded in the video) or drop.

Same rules as the verdict routes (app.py, auth.py): every route checks the Airflow token; submitting needs a
reviewer and the user's CSRF token; the answer is stored under the token's user, never a form field.
"""
from __future__ import annotations

import html
from pathlib import Path

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, Field

import videokr.review_app.auth as auth
from videokr.review_app.frames import frame_jpeg

PAGE = Path(__file__).parent / "static" / "reannotate.html"


class ReannotationBody(BaseModel):
    task_id: str = Field(max_length=64)
    action: str = Field(max_length=16)                   # rewrite | drop
    problem_type: str | None = Field(default=None, max_length=32)
    question: str | None = Field(default=None, max_length=4000)
    options: list[str] | None = Field(default=None, max_length=10)
    answer: str | None = Field(default=None, max_length=4000)
    note: str | None = Field(default=None, max_length=4000)
    # no reviewer field: the reviewer is the token's user (extra fields are ignored)


def router(st, user, reviewer) -> APIRouter:
    """Routes over the app's shared warehouse state `st`, with its `user` and `reviewer` dependencies."""
    r = APIRouter()

    @r.get("/reannotate", response_class=HTMLResponse)
    async def page(request: Request):
        try:
            await user(request)
        except HTTPException as exc:
            login = html.escape(auth.login_url(next_url=str(request.url)))
            return HTMLResponse(f'<!doctype html><title>Re-annotate: log in</title><p>{html.escape(exc.detail)}. '
                                f'<a href="{login}" target="_top">Log in to Airflow</a></p>', exc.status_code)
        return HTMLResponse(PAGE.read_text())

    @r.get("/api/reannotation/tasks")
    def tasks(status: str | None = None, u: auth.Reviewer = Depends(user)):
        """Every task (pending first), or those of `status` (pending | rewrite | drop)."""
        from jobs.review import reannotation
        with st.lock:
            rows = reannotation.tasks(st.wh, status)
        return {"total": len(rows), "pending": sum(t["status"] == "pending" for t in rows), "tasks": rows}

    @r.get("/api/reannotation/tasks/{task_id}")
    def one(task_id: str, u: auth.Reviewer = Depends(user)):
        from jobs.review import reannotation
        try:
            with st.lock:
                t = reannotation.task(st.wh, task_id)
                _, stamps = reannotation.video_of(st.wh, task_id)
        except KeyError as exc:
            raise HTTPException(404, str(exc)) from None
        return t | {"frames": stamps}

    @r.get("/api/reannotation/tasks/{task_id}/frames/{i}")
    def frame(task_id: str, i: int, size: str = "thumb", u: auth.Reviewer = Depends(user)):
        from jobs.review import reannotation
        try:
            with st.lock:
                path, stamps = reannotation.video_of(st.wh, task_id)
        except KeyError as exc:
            raise HTTPException(404, str(exc)) from None
        return frame_jpeg(path, stamps, i, size, f"task {task_id}")

    @r.post("/api/reannotations", status_code=201)
    def submit(body: ReannotationBody, u: auth.Reviewer = Depends(reviewer)):
        from jobs.review import reannotation
        try:
            with st.lock:
                row = reannotation.answer(st.wh, body.task_id, u.name, body.action, body.problem_type,
                                          body.question, body.options, body.answer, body.note)
        except KeyError as exc:
            raise HTTPException(404, str(exc)) from None
        except ValueError as exc:
            raise HTTPException(422, str(exc)) from None
        return {**row, "annotated_at": row["annotated_at"].isoformat()}

    return r
