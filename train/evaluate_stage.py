"""The `evaluate` stage entry point (see train/stage.py)."""
from train.stage import evaluate_run as run  # noqa: F401
