"""Prints the reliability table (tests/reliability/table.py) at the end of the session."""
from __future__ import annotations

from tests.reliability import table


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    text = table.render()
    if text:
        terminalreporter.write_sep("=", "reliability: scenario, expected, observed, pass")
        terminalreporter.write_line(text)
