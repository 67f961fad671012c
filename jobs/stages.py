"""The stage registry: stage name -> job module, in pipeline order. DAG ids equal stage names.

A stage is registered when its module exists; later issues add modules and the chain grows.
"""
from __future__ import annotations

import importlib
import importlib.util

ORDER = ("knowledge_bank", "collect", "screen", "frames", "generate", "verify",
         "decontaminate", "split", "export", "train", "evaluate")
MODULES = {name: f"jobs.{name}" for name in ORDER} | {"train": "train.stage", "evaluate": "train.evaluate_stage",
                                                   "maintenance": "jobs.maintenance",  # upkeep: not in the chain
                                                   "review": "jobs.review.pilots"}  # human review: gates models


def registered() -> list[str]:
    return [s for s in ORDER if importlib.util.find_spec(MODULES[s]) is not None]


def job(name: str):
    """The module of stage `name`; it has `run(settings=None, subjects=None, params=None) -> dict`."""
    if name not in MODULES:
        raise KeyError(f"unknown stage {name!r}; stages: {', '.join(ORDER)}")
    if importlib.util.find_spec(MODULES[name]) is None:
        raise KeyError(f"stage {name!r} is not built yet (no module {MODULES[name]})")
    return importlib.import_module(MODULES[name])
