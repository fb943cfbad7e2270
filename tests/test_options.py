"""Settings dataclasses as command-line options (ase_mlham.options): each setting declared once."""

import argparse
import dataclasses

import pytest

from ase_mlham.calculator import CalculatorSettings
from ase_mlham.cli import build_parser
from ase_mlham.data.generate import SamplingSettings
from ase_mlham.data.reference import ReferenceSettings
from ase_mlham.md import MDSettings
from ase_mlham.options import add_settings_arguments, option_fields, setting, settings_from_arguments
from ase_mlham.training.trainer import TrainingSettings


@dataclasses.dataclass(frozen=True)
class Example:
    count: int = setting(3, "how many")
    scale: float | None = setting(None, "a scale or none")
    fast: bool = setting(False, "go fast")
    exact: bool = setting(True, "do not approximate", flag="--approximate")
    mode: str = setting("a", "the mode", choices=("a", "b"))
    internal: int = 7

    def __post_init__(self):
        if self.count < 1:
            raise ValueError(f"count must be at least 1, got {self.count}")


def parse(*argv):
    parser = argparse.ArgumentParser()
    add_settings_arguments(parser, Example)
    return parser, parser.parse_args(argv)


def test_defaults_round_trip_to_the_dataclass():
    _, args = parse()
    assert settings_from_arguments(Example, args) == Example()
    assert not hasattr(args, "internal")  # a field without help is no option


def test_options_reach_the_fields():
    _, args = parse("--count", "5", "--scale", "0.5", "--fast", "--approximate", "--mode", "b")
    assert settings_from_arguments(Example, args) == Example(count=5, scale=0.5, fast=True, exact=False, mode="b")
    assert settings_from_arguments(Example, args, internal=1).internal == 1


def test_the_dataclass_checks_the_values():
    _, args = parse("--count", "0")
    with pytest.raises(ValueError, match="count must be at least 1, got 0"):
        settings_from_arguments(Example, args)
    parser, _ = parse()
    with pytest.raises(SystemExit):  # choices are argparse's
        parser.parse_args(["--mode", "c"])


def test_a_true_switch_needs_its_flag():
    @dataclasses.dataclass
    class Bad:
        on: bool = setting(True, "on")

    with pytest.raises(TypeError, match="defaults to True"):
        add_settings_arguments(argparse.ArgumentParser(), Bad)


@pytest.mark.parametrize("command, settings", [("train", TrainingSettings), ("generate", SamplingSettings),
                                                ("generate", ReferenceSettings), ("md", MDSettings),
                                                ("md", CalculatorSettings), ("spectrum", CalculatorSettings)])
def test_every_setting_is_an_option_with_the_dataclass_default(command, settings):
    """The CLI's defaults are the settings' own: parsing only the required arguments gives the defaults."""
    required = {"train": ["x.db", "--out", "m.pt"], "generate": ["H2O", "--db", "x.db"], "md": ["H2O", "--out", "o"],
                "spectrum": ["run", "--out", "s.png"]}
    args = build_parser().parse_args([command, *required[command]])
    assert settings_from_arguments(settings, args) == settings()
    assert len(option_fields(settings)) >= 4


def test_the_calculator_options_are_the_same_in_every_command():
    """`mlham md`, `mlham spectrum` and `mlham-ipi` take the calculator's options from one declaration."""
    from ipi_driver.cli import build_parser as ipi_parser

    chosen = ["--model", "m.pt", "--excitations", "3", "--device", "cpu", "--dtype", "float32"]
    expected = CalculatorSettings(model="m.pt", excitations=3, device="cpu", dtype="float32")
    for parser, required in ((build_parser(), ["md", "H2O", "--out", "o"]),
                             (build_parser(), ["spectrum", "run", "--out", "s.png"]), (ipi_parser(), ["-t", "i.xyz"])):
        assert settings_from_arguments(CalculatorSettings, parser.parse_args([*required, *chosen])) == expected
    assert settings_from_arguments(CalculatorSettings, ipi_parser().parse_args(["-t", "i.xyz"])) == CalculatorSettings()
    # the i-PI driver's older spelling still works
    old = ipi_parser().parse_args(["-t", "i.xyz", "--n-excitations", "0"])
    assert settings_from_arguments(CalculatorSettings, old).excitations == 0


def test_a_command_may_narrow_a_settings_help_but_not_invent_options():
    parser = argparse.ArgumentParser()
    add_settings_arguments(parser, Example, helps={"count": "how many frames"}, skip=("mode",))
    assert "how many frames" in parser.format_help() and "--mode" not in parser.format_help()
    with pytest.raises(ValueError, match=r"Example has no options \['counts'\]"):
        add_settings_arguments(argparse.ArgumentParser(), Example, helps={"counts": "typo"})
    with pytest.raises(ValueError, match=r"Example has no options \['internal'\]"):
        add_settings_arguments(argparse.ArgumentParser(), Example, skip=("internal",))
