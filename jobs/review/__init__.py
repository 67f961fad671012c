"""Human-in-the-loop model selection: pilot samples for experts (samples.py) and the pick from their verdicts
(selection.py). The review page (videokr/review_app, an Airflow plugin) reads and writes through these modules."""
