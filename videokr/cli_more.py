"""CLI commands added by later stages (quota, kb, export, card, airflow)."""
from __future__ import annotations


def register(sub) -> None:
    """Later issues add their subcommands here."""
