"""Benchmark: model calls and tokens per verified example, early exit (cheapest first) against every check in full.

    .venv/bin/python tests/benchmarks/bench_verify_cost.py

The sample world's scene records (every regular video, with the planted flaws) are seeded as kept videos, the
offline stand-ins generate their candidates, and `verify` runs twice in the same temporary warehouse: first with
`early_exit = false` (the baseline: every call of every check), then with the defaults (the second run re-verifies
every candidate, since the mode is part of each candidate's fingerprint). Prints both, their ratio, and whether the
verified sets are identical. Goal: <= 5 calls per verified example (10.1 before early exit).
"""
from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))


def main() -> None:
    tmp = tempfile.TemporaryDirectory(prefix="bench_verify_cost_")
    os.environ["VIDEOKR_HOME"] = tmp.name
    from jobs import generate, verify
    from jobs.sources.offline_model import OfflineModel
    from jobs.sources.sample.planted import with_flaws
    from jobs.sources.sample.render import plan_scene
    from jobs.sources.sample.spec import kp_specs
    from tests.integration.test_verify_sample_world import seed
    from videokr.settings import Settings
    from warehouse import Warehouse

    settings = Settings.load()
    specs, _ = with_flaws(kp_specs(settings.seed))
    scenes = {s.video_id: plan_scene(s) for s in specs}
    model = OfflineModel(scenes)
    with Warehouse(settings) as wh:
        seed(wh, scenes)
    gen = generate.run(settings, offline_model=model)
    runs = {}
    for mode, params in (("full (every check, every call)", {"early_exit": False}), ("early exit (default)", {})):
        t0 = time.perf_counter()
        out = verify.run(settings, params=params, offline_model=model)
        with Warehouse(settings, read_only=True) as wh:
            verified = set(wh.query("SELECT candidate_id FROM verified_qa").to_series().to_list())
        runs[mode] = (out, verified, time.perf_counter() - t0)
    print(f"{gen['candidates']} candidates from {len(scenes)} videos; verify params {runs['early exit (default)'][0]['params']}")
    print(f"{'mode':<34} {'calls':>6} {'verified':>9} {'calls/verified':>15} {'tokens/verified':>16} {'seconds':>8}")
    for mode, (out, verified, dt) in runs.items():
        tokens = out["tokens"]["tokens_in"] + out["tokens"]["tokens_out"]
        print(f"{mode:<34} {out['calls']:>6} {len(verified):>9} {out['calls'] / max(1, len(verified)):>15.2f} "
              f"{tokens / max(1, len(verified)):>16.0f} {dt:>8.1f}")
    (full, vf, _), (early, ve, _) = runs.values()
    print(f"early / full calls = {early['calls'] / full['calls']:.3f}; same verified set: {vf == ve} "
          f"(goal: <= 5 calls per verified example)")
    tmp.cleanup()


if __name__ == "__main__":
    main()
