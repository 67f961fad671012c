"""`videokr stage X --downstream` runs X and then the stages below it, in pipeline order, for the same subjects."""
from __future__ import annotations

import json

from videokr.cli.main import main


def test_downstream_runs_the_stages_below_for_the_same_scope(home, settings, capsys):
    assert main(["stage", "knowledge_bank"]) == 0
    capsys.readouterr()
    assert main(["stage", "split", "--downstream", "--until", "export", "--subjects", "physics"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert isinstance(printed, list) and len(printed) == 2          # one summary per stage run

    from warehouse import Warehouse
    with Warehouse(settings, read_only=True) as wh:
        runs = wh.query("SELECT stage, scope, status FROM runs ORDER BY started").to_dicts()
    assert [(r["stage"], json.loads(r["scope"]), r["status"]) for r in runs] == [
        ("knowledge_bank", {"subjects": []}, "success"),
        ("split", {"subjects": ["physics"]}, "success"),
        ("export", {"subjects": ["physics"]}, "success")]

    # an unknown subject is refused before the first stage runs: nothing more is written
    assert main(["stage", "split", "--downstream", "--subjects", "astrology"]) == 2
    assert "unknown subject(s) ['astrology']" in capsys.readouterr().err
    with Warehouse(settings, read_only=True) as wh:
        assert wh.query("SELECT count(*) FROM runs").item() == 3
