"""`videokr stage <name> --subjects` refuses subjects the knowledge bank does not have, naming them, before any work."""
from __future__ import annotations

import os
import subprocess
import sys


def test_unknown_subject_is_refused_by_every_stage_from_the_cli(tmp_path):
    env = dict(os.environ, VIDEOKR_HOME=str(tmp_path / "home"), OMP_NUM_THREADS="1")
    for stage in ("collect", "screen", "frames", "generate", "verify"):
        out = subprocess.run([sys.executable, "-m", "videokr.cli", "stage", stage, "--subjects", "astrology"],
                             env=env, capture_output=True, text=True, timeout=120)
        assert out.returncode == 2, (stage, out.stderr[-2000:])
        assert f"videokr stage: error: {stage}: unknown subject(s) ['astrology']" in out.stderr, out.stderr[-500:]
