"""Prints the reliability table (tests/reliability/table.py) at the end of the session."""
from __future__ import annotations

from pathlib import Path

import pytest

from tests.reliability import table

MINI_BANK = Path(__file__).resolve().parents[1] / "fixtures" / "mini_bank.yaml"


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    text = table.render()
    if text:
        terminalreporter.write_sep("=", "reliability: scenario, expected, observed, pass")
        terminalreporter.write_line(text)


@pytest.fixture(scope="session")
def sweep_world(tmp_path_factory):
    """The bad-input sweep's warehouse (test_bad_inputs.py, test_bad_media.py), loaded from the mini bank once:
    (settings, env). Nothing is set in os.environ for the session: a test that needs the environment (the CLI, a
    DAG task) sets `env` with monkeypatch. Each batch works in its own subjects and checks that nothing is lost."""
    root = tmp_path_factory.mktemp("bad-inputs")
    env = {"VIDEOKR_HOME": str(root / "home"), "VIDEOKR_CONFIG": str(root / "none.toml"),
           "VIDEOKR_KNOWLEDGE_BANK": str(MINI_BANK)}
    from jobs import knowledge_bank
    from videokr.settings import Settings
    settings = Settings(home=root / "home", knowledge_bank=str(MINI_BANK))
    knowledge_bank.run(settings)
    return settings, env
