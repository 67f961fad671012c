"""The expert review page inside the Airflow UI: the review FastAPI app mounted at /review, and a nav entry under
Browse that frames it. Airflow does not put plugin apps behind its auth, so the app validates the user's Airflow
token itself (videokr/review_app/auth.py); only reviewers (`[review] reviewer_roles`, default admin and op) submit."""
from __future__ import annotations

from airflow.plugins_manager import AirflowPlugin

from videokr.review_app import create_app


class VideokrReviewPlugin(AirflowPlugin):
    name = "videokr_review"
    fastapi_apps = [{"app": create_app(), "url_prefix": "/review", "name": "videokr review"}]
    external_views = [{"name": "Review", "href": "review/", "url_route": "review", "category": "browse",
                       "destination": "nav"}]
