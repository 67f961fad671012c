"""The command line explains itself: `videokr stage --help` lists the stages, every flag of every command has help
text, and `--downstream` plans the stages below one in pipeline order."""
from __future__ import annotations

import argparse
import re

import pytest

from jobs.stages import MODULES, ORDER
from videokr.cli.main import STAGE_HELP, build_parser, main

OWNED_ELSEWHERE = {"export"}     # its options are being reworked with the export stage (issue 18, items 4-6)


def _commands() -> dict[str, argparse.ArgumentParser]:
    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    return dict(sub.choices)


def test_every_flag_of_every_command_has_help_text():
    missing = []
    for name, parser in _commands().items():
        if name in OWNED_ELSEWHERE:
            continue
        for action in parser._actions:
            if isinstance(action, argparse._HelpAction):
                continue
            if not (action.help or "").strip():
                missing.append(f"videokr {name} {'/'.join(action.option_strings) or action.dest}")
    assert not missing, f"flags without help: {missing}"
    assert {"run", "stage", "sql", "tables", "describe", "quota", "card", "maintain"} <= set(_commands())


def test_stage_help_lists_every_stage_with_what_it_does(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["stage", "--help"])
    assert exit_.value.code == 0
    out = capsys.readouterr().out
    listed = re.findall(r"^  (\w+)\s{2,}(\S.*)$", out.split("stages, in pipeline order:")[1], flags=re.M)
    assert [name for name, _ in listed] == [*ORDER, *(k for k in MODULES if k not in ORDER)]
    assert all(text.strip() for _, text in listed) and set(STAGE_HELP) == set(MODULES)
    assert "--downstream" in out and "--until" in out


def test_unknown_stage_is_refused_by_argparse_naming_the_choices(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["stage", "frmaes"])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert "invalid choice: 'frmaes'" in err and "frames" in err


@pytest.mark.parametrize("argv, message", [
    (["stage", "maintenance", "--downstream"], "maintenance is not in the pipeline chain"),
    (["stage", "split", "--until", "export"], "--until needs --downstream"),
    (["stage", "split", "--downstream", "--until", "collect"], "--until collect: not below split"),
])
def test_downstream_misuse_is_one_clear_line(argv, message, capsys, home):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1
