"""The expert review page (issue 16): a FastAPI app that the Airflow plugin in plugins/videokr_review.py mounts at
/review. It checks the Airflow token itself (plugin apps are not behind Airflow's auth): see auth.py."""
from videokr.review_app.app import create_app

__all__ = ["create_app"]
