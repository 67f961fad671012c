"""`videokr run`: every registered stage DAG, in pipeline order, through Airflow in-process (`dag.test()`)."""
from __future__ import annotations

import logging
import os
import time
from contextlib import contextmanager
from pathlib import Path
from unittest import mock

from videokr.cli import airflow_admin, airflow_env
from videokr.settings import REPO_ROOT, Settings

log = logging.getLogger("videokr.run")


def load_dags():
    """The DAG folder parsed once, as `dag.test()` parses it (a BundleDagBag of the dags-folder bundle)."""
    from airflow.dag_processing.bundles.manager import DagBundlesManager
    from airflow.dag_processing.dagbag import BundleDagBag
    bundles = [b for b in DagBundlesManager().get_all_dag_bundles() if Path(b.path) == REPO_ROOT / "dags"]
    if not bundles:
        raise RuntimeError(f"no DAG bundle for {REPO_ROOT / 'dags'} (AIRFLOW__CORE__DAGS_FOLDER)")
    bundle = bundles[0]
    if not bundle.is_initialized:
        bundle.initialize()
    bag = BundleDagBag(dag_folder=bundle.path, bundle_path=bundle.path, bundle_name=bundle.name)
    if bag.import_errors:
        raise RuntimeError("DAG import errors:\n" + "\n".join(f"{k}: {v}" for k, v in bag.import_errors.items()))
    return bag


@contextmanager
def parsed_once(bag):
    """`dag.test()` re-parses the whole DAG folder and writes every DAG's serialization to the metadata DB on each
    call (0.3-0.7 CPU s per stage, most of what an unchanged stage costs besides its job). The folder does not
    change during `videokr run`, so the first call syncs `bag` and later calls reuse it. Airflow still runs each
    DAG from its synced version; only the repeated parse is skipped."""
    from airflow.dag_processing import dagbag as module
    real_bag, real_sync, synced = module.BundleDagBag, module.sync_bag_to_db, set()

    def same_bag(*args, bundle_name=None, **kwargs):
        return bag if bundle_name == bag.bundle_name else real_bag(*args, bundle_name=bundle_name, **kwargs)

    def sync_once(dagbag, bundle_name, bundle_version, **kwargs):
        if dagbag is bag and bundle_name in synced:
            return None
        synced.add(bundle_name)
        return real_sync(dagbag, bundle_name, bundle_version, **kwargs)

    with mock.patch.object(module, "BundleDagBag", same_bag), mock.patch.object(module, "sync_bag_to_db", sync_once):
        yield


def run_chain(settings: Settings, subjects: list[str] | None = None, stop_after: str | None = None,
              display=None) -> list[dict]:
    """Run the stage DAGs in order; returns one result per DAG (dag id, state, seconds, start and end times).

    Airflow's logs go to its task log files (the UI shows them) and a run log, never the terminal (runlog.py);
    `display` (a progress.Progress) gets every log line and task boundary, and each stage's start and end."""
    airflow_env.apply(settings)
    os.environ["VIDEOKR_DAG_TEST"] = "1"  # dags/common.embedded(): no deadline alerts, fewer tasks per stage
    from jobs.stages import registered
    from videokr.cli.runlog import route_logs
    airflow_admin.init(settings)
    bag = load_dags()
    dags = bag.dags
    results = []
    hooks = dict(on_line=display.on_line, on_task=display.on_task) if display is not None else {}
    with route_logs(settings.airflow_home, **hooks) as sink, parsed_once(bag):
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
