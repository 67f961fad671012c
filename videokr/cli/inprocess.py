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


def run_chain(settings: Settings, subjects: list[str] | None = None, stop_after: str | None = None,
              display=None) -> list[dict]:
    """Run the stage DAGs in order; returns one result per DAG (dag id, state, seconds, start and end times).

    Airflow's logs go to its task log files (the UI shows them) and a run log, never the terminal (runlog.py);
    `display` (a progress.Progress) gets every log line and task boundary, and each stage's start and end."""
    airflow_env.apply(settings)
    os.environ["VIDEOKR_DAG_TEST"] = "1"  # see dags/common.py: dag.test() cannot run deadline alerts
    from jobs.stages import registered
    from videokr.cli.runlog import route_logs
    airflow_admin.init(settings)
    dags = load_dags()
    results = []
    hooks = dict(on_line=display.on_line, on_task=display.on_task) if display is not None else {}
    with route_logs(settings.airflow_home, **hooks) as sink:
        log.info("videokr run: logs of each task under %s, this log: %s", sink.base, sink.run_log)
        for stage in registered():
            if stage not in dags:
                continue
            t0, cpu0 = time.time(), _cpu_s()
            log.info("running DAG %s", stage)
            if display is not None:
                display.start_stage(stage)
            dr = dags[stage].test(run_conf={"subjects": list(subjects or [])})
            state = str(getattr(dr, "state", "unknown")).rsplit(".", 1)[-1]
            if display is not None:
                display.end_stage(stage, state)
            results.append({"dag_id": stage, "state": state, "seconds": round(time.time() - t0, 1),
                            "cpu_s": round(_cpu_s() - cpu0, 1), "run_id": getattr(dr, "run_id", None),
                            "started": t0, "finished": time.time()})
            log.info("DAG %s: %s in %.1f s (%.1f CPU s)", stage, state, results[-1]["seconds"], results[-1]["cpu_s"])
            if "success" not in state:
                break
            if stage == stop_after:
                break
        _forget_queued_asset_runs()
        for r in results:
            r["run_log"] = str(sink.run_log)
    return results


def _cpu_s() -> float:
    """CPU seconds of this process and its finished children (render workers, training subprocesses)."""
    import resource
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def _forget_queued_asset_runs() -> None:
    """The chain just ran in order, so the asset events it emitted must not make a scheduler started later (`videokr
    airflow up`) replay the downstream DAGs: drop the queued asset-triggered runs (the events stay as history)."""
    from airflow.models.asset import AssetDagRunQueue
    from airflow.utils.session import create_session
    with create_session() as session:
        n = session.query(AssetDagRunQueue).delete()
    if n:
        log.info("videokr run: %d queued asset-triggered runs dropped (the chain already ran them)", n)
