"""`videokr run --scheduler`: the chain through the real scheduler, triggered over the REST API."""
from __future__ import annotations

import logging

from videokr.cli.airflow_server import AirflowServer
from videokr.settings import Settings

log = logging.getLogger("videokr.run")


def run_with_scheduler(settings: Settings, subjects: list[str] | None = None, timeout: float = 3600) -> list[dict]:
    from jobs.stages import registered
    stages = registered()
    results = []
    with AirflowServer(settings) as server:
        from videokr.cli.rest import AirflowREST
        api = AirflowREST(server.url, server.login["user"], server.login["password"])
        api.wait_for_dags(stages)
        before = {s: len(api.runs(s)) for s in stages}
        for s in stages:
            api.unpause(s)
        api.trigger(stages[0], {"subjects": list(subjects or [])})
        log.info("triggered %s over REST at %s; downstream DAGs run on asset events", stages[0], server.url)
        for s in stages:  # each downstream DAG is scheduled by its upstream's asset event
            run = api.wait_run(s, before[s], timeout)
            results.append({"dag_id": s, "state": run["state"], "seconds": None})
            if run["state"] != "success":
                break
    return results
