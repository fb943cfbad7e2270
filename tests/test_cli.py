"""The ``mlham`` command line."""

import re
import subprocess
import sys
from pathlib import Path

import pytest

from ase_mlham.cli import build_parser


@pytest.mark.parametrize("command", ["generate", "train", "evaluate", "md", "spectrum", "combine", "card"])
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
    # next to this interpreter, so that the test does not depend on the environment being on PATH
    executable = Path(sys.executable).parent / "mlham"
    assert executable.exists(), f"no console script {executable}: is the package installed (pip install -e .)?"
    result = subprocess.run([str(executable), "--help"], capture_output=True, text=True)
    assert result.returncode == 0 and "generate" in result.stdout


@pytest.mark.parametrize("flag, name", [("--ridge-regularisation", "ridge_regularisation"),
                                        ("--energy-ridge-regularisation", "energy_ridge_regularisation")])
def test_train_ridge_flags_reach_the_settings(tmp_path, flag, name):
    """A non-positive regularisation is refused by TrainingSettings before any database is read."""
    result = subprocess.run([sys.executable, "-m", "ase_mlham.cli", "train", str(tmp_path / "missing.db"),
                             "--out", str(tmp_path / "m.pt"), flag, "0"], capture_output=True, text=True)
    assert result.returncode != 0 and f"{name} must be positive" in result.stderr


def test_evaluate_names_the_molecules_the_model_never_trained_on(g2_db, tmp_path, capsys):
    """The issue's "unseen molecules": read from the training molecules the model file records."""
    import json

    from ase.db import connect

    from ase_mlham.cli import main
    from ase_mlham.model.io import save_model
    from ase_mlham.model.testing import random_tiny_model

    save_model(random_tiny_model(), tmp_path / "tiny.pt", {"molecules": ["H2O"], "databases": []})
    source, target = connect(str(g2_db)), connect(str(tmp_path / "mixed.db"), use_lock_file=False)
    for name in ("H2O", "NH3"):
        for row in source.select(molecule=name, limit=1):
            target.write(row.toatoms(), key_value_pairs=row.key_value_pairs, data=row.data)
    arguments = ["evaluate", str(tmp_path / "tiny.pt"), str(tmp_path / "mixed.db"), "--no-baselines", "--quiet"]
    assert main([*arguments, "--json", str(tmp_path / "mixed.json")]) == 0
    assert "mixed.db: 2 frames (all); 1 of 2 molecules never trained on, errors" in capsys.readouterr().out
    assert json.loads((tmp_path / "mixed.json").read_text())["unseen_molecules"] == ["NH3"]
    target.delete([row.id for row in target.select(molecule="H2O")])
    assert main(arguments) == 0
    assert "1 frames (all); unseen molecules (none trained on), errors" in capsys.readouterr().out


def test_energy_range_options_set_the_energy_descriptor():
    """--energy-cutoff / --energy-switch-width replace the preset's energy descriptor range, nothing else."""
    from ase_mlham.model.settings import PRESETS, with_energy_range

    preset = PRESETS["delta-xtb"]
    soft = with_energy_range(preset, switch_width=2.0)
    assert soft.energy_descriptor.cutoff_width == 2.0 and soft.energy_descriptor.cutoff == preset.energy_descriptor.cutoff
    assert soft.descriptor == preset.descriptor and soft.energy_baseline == preset.energy_baseline
    assert with_energy_range(preset, cutoff=3.0).energy_descriptor.cutoff == 3.0
    assert with_energy_range(preset) is preset


def test_energy_range_needs_a_separate_energy_descriptor(tmp_path):
    result = subprocess.run([sys.executable, "-m", "ase_mlham.cli", "train", str(tmp_path / "missing.db"),
                             "--out", str(tmp_path / "m.pt"), "--preset", "tiny", "--energy-switch-width", "2"],
                            capture_output=True, text=True)
    assert result.returncode == 2 and "only be set for a model with its own, local energy descriptor" in result.stderr


def test_train_passes_the_energy_range_to_training(tmp_path, monkeypatch):
    """The options reach the settings `train_from_databases` is given (not only the helper)."""
    import ase_mlham.training.run as run
    from ase_mlham.cli import main

    received = {}

    def fake_train(databases, out, model_settings, settings, **kwargs):
        received["settings"] = model_settings
        raise RuntimeError("stop here")

    monkeypatch.setattr(run, "train_from_databases", fake_train)
    assert main(["train", str(tmp_path / "a.db"), "--out", str(tmp_path / "m.pt"), "--energy-cutoff", "3.5",
                 "--energy-switch-width", "1.5"]) == 2
    energy = received["settings"].energy_descriptor
    assert (energy.cutoff, energy.cutoff_width) == (3.5, 1.5)


def test_evaluate_compares_each_molecule_with_gfn2_xtb(g2_db):
    """Force MAE ratio to GFN2-xTB per molecule and the molecules whose energies are worse than xTB's,
    consistent with the per-molecule tables."""
    from ase_mlham.data.dataset import read_frames
    from ase_mlham.evaluation import evaluate
    from ase_mlham.model.testing import random_tiny_delta_model

    frames = read_frames(g2_db, molecule="H2O")[:2] + read_frames(g2_db, molecule="NH3")[:1]
    evaluation = evaluate(random_tiny_delta_model(), frames, show_progress=False)
    summary, tables = evaluation.against_baseline(), evaluation.to_dict()["per_molecule"]
    ratios = {name: table["methods"]["model"]["forces"]["mae"] / table["methods"]["GFN2-xTB"]["forces"]["mae"]
              for name, table in tables.items()}
    assert summary["molecules"] == 2 and summary["force_mae_ratio_max"] == pytest.approx(max(ratios.values()))
    assert summary["force_mae_ratio_max_molecule"] == max(ratios, key=ratios.get)
    worse = [name for name, table in tables.items() if table["methods"]["model"]["energy_per_atom"]["mae"]
             > table["methods"]["GFN2-xTB"]["energy_per_atom"]["mae"]]
    assert summary["energy_worse_than_xtb"] == worse
    assert evaluation.baseline_line().startswith("per molecule against GFN2-xTB (2 molecules): force MAE ratio")
    assert evaluate(random_tiny_delta_model(), frames[:1], baselines=False, show_progress=False).baseline_line() == ""


@pytest.mark.parametrize("cutoff, width, message", [
    (-1.0, None, "the energy cutoff must be a positive distance in Angstrom, got -1.0"),
    (None, 5.0, "the energy switch width must be positive and below the energy cutoff (4 A), got 5.0"),
    (3.0, 0.0, "the energy switch width must be positive and below the energy cutoff (3 A), got 0.0"),
])
def test_energy_range_refuses_impossible_ranges(cutoff, width, message):
    from ase_mlham.model.settings import PRESETS, with_energy_range

    with pytest.raises(ValueError, match=re.escape(message)):
        with_energy_range(PRESETS["delta-xtb"], cutoff=cutoff, switch_width=width)
