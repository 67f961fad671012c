"""`videokr run`: every registered stage DAG, in pipeline order, through Airflow in-process (`dag.test()`)."""
from __future__ import annotations

import logging
import os
import time

from videokr.cli import airflow_admin, airflow_env
from videokr.settings import REPO_ROOT, Settings

log = logging.getLogger("videokr.run")




def load_dags() -> dict:
    from airflow.dag_processing.dagbag import DagBag
    bag = DagBag(dag_folder=str(REPO_ROOT / "dags"))
    if bag.import_errors:
        raise RuntimeError("DAG import errors:\n" + "\n".join(f"{k}: {v}" for k, v in bag.import_errors.items()))
    return bag.dags


def run_chain(settings: Settings, subjects: list[str] | None = None, stop_after: str | None = None) -> list[dict]:
    """Run the stage DAGs in order; returns one result per DAG (dag id, state, seconds)."""
    airflow_env.apply(settings)
    os.environ["VIDEOKR_DAG_TEST"] = "1"  # see dags/common.py: dag.test() cannot run deadline alerts
    from jobs.stages import registered
    airflow_admin.init(settings)
    dags = load_dags()
    results = []
    for stage in registered():
        if stage not in dags:
            continue
        t0 = time.time()
        log.info("running DAG %s", stage)
        dr = dags[stage].test(run_conf={"subjects": list(subjects or [])})
        state = str(getattr(dr, "state", "unknown"))
        results.append({"dag_id": stage, "state": state, "seconds": round(time.time() - t0, 1)})
        if "success" not in state:
            break
        if stage == stop_after:
            break
    _forget_queued_asset_runs()
    return results


def _forget_queued_asset_runs() -> None:
    """The chain just ran in order, so the asset events it emitted must not make a scheduler started later (`videokr
    airflow up`) replay the downstream DAGs: drop the queued asset-triggered runs (the events stay as history)."""
    from airflow.models.asset import AssetDagRunQueue
    from airflow.utils.session import create_session
    with create_session() as session:
        n = session.query(AssetDagRunQueue).delete()
    if n:
        log.info("videokr run: %d queued asset-triggered runs dropped (the chain already ran them)", n)
