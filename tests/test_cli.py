"""The ``mlham`` command line."""

import subprocess
import sys

import pytest

from ase_mlham.cli import build_parser


@pytest.mark.parametrize("command", ["generate", "train", "evaluate", "md", "spectrum"])
def test_help_documents_every_option(command):
    subcommand = build_parser()._subparsers._group_actions[0].choices[command]
    help_text = subprocess.run([sys.executable, "-m", "ase_mlham.cli", command, "--help"],
                               capture_output=True, text=True, check=True).stdout
    for action in subcommand._actions:
        if action.dest == "help":
            continue
        assert action.help, f"option {action.dest} has no help"
        for flag in action.option_strings:
            assert flag in help_text


def test_console_script_is_installed():
    result = subprocess.run(["mlham", "--help"], capture_output=True, text=True)
    assert result.returncode == 0 and "generate" in result.stdout


@pytest.mark.parametrize("flag, name", [("--ridge-regularisation", "ridge_regularisation"),
                                        ("--energy-ridge-regularisation", "energy_ridge_regularisation")])
def test_train_ridge_flags_reach_the_settings(tmp_path, flag, name):
    """A non-positive regularisation is refused by TrainingSettings before any database is read."""
    result = subprocess.run([sys.executable, "-m", "ase_mlham.cli", "train", str(tmp_path / "missing.db"),
                             "--out", str(tmp_path / "m.pt"), flag, "0"], capture_output=True, text=True)
    assert result.returncode != 0 and f"{name} must be positive" in result.stderr
