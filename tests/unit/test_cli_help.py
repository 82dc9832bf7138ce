"""`deskpilot up --help` shows its options the way argparse shows any command's: a value
name after each option that takes one, none after a switch, the choices where there are."""

from __future__ import annotations

import pytest

from deskpilot.cli.main import main


def _up_help(capsys: pytest.CaptureFixture[str]) -> str:
    try:
        code = main(["up", "--help"])
    except SystemExit as exc:  # argparse's own help exits
        code = exc.code
    assert code == 0
    return capsys.readouterr().out


def test_up_help_names_the_value_each_option_takes(capsys: pytest.CaptureFixture[str]) -> None:
    shown = _up_help(capsys)
    assert shown.startswith("usage: deskpilot up [-h]")
    for option in (
        "--nats-port NATS_PORT",
        "--orchestrator-port ORCHESTRATOR_PORT",
        "--stand-in-script STAND_IN_SCRIPT",
        "--ready-timeout READY_TIMEOUT",
        "--log-format {auto,json,text}",
        "--stand-in, --no-stand-in\n",  # a switch takes no value
    ):
        assert option in shown, shown
    assert "DESKPILOT_UP_NATS_PORT" in shown and "(default 4222;" in shown
    assert "--stand-in STAND_IN " not in shown and "--stand-in STAND_IN\n" not in shown
