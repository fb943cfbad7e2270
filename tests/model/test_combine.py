"""`mlham combine`: the Hamiltonian head of one model file with the energy head of another."""

import numpy as np
import pytest
from ase.build import molecule

from ase_mlham.cli import main
from ase_mlham.model.card import sha256
from ase_mlham.model.combine import combine_files
from ase_mlham.model.io import load_model, save_model
from ase_mlham.model.testing import random_tiny_delta_model, random_tiny_model


@pytest.fixture(scope="module")
def two_models(tmp_path_factory):
    """Two delta models of the same architecture with different weights, thresholds and calibrations."""
    folder = tmp_path_factory.mktemp("combine")
    paths = folder / "hamiltonian.pt", folder / "energy.pt"
    save_model(random_tiny_delta_model(seed=0), paths[0], {
        "command": "mlham train a.db --out hamiltonian.pt", "largest_molecule_atoms": 12,
        "energy_calibration": {"damping_width_eV": 0.1},
        "uncertainty_thresholds": {"energy": 1.0, "forces": 2.0, "gap": 3.0}})
    save_model(random_tiny_delta_model(seed=5), paths[1], {
        "command": "mlham train b.db --out energy.pt", "largest_molecule_atoms": 20,
        "energy_calibration": {"damping_width_eV": 0.2},
        "uncertainty_thresholds": {"energy": 4.0, "forces": 5.0, "gap": 6.0}})
    return paths


def _predict(model, atoms):
    return model.predict(atoms.numbers, atoms.positions)


def test_combined_model_has_each_heads_predictions(two_models, tmp_path):
    hamiltonian_path, energy_path = two_models
    out = tmp_path / "combined.pt"
    combine_files(hamiltonian_path, energy_path, out)
    combined, hamiltonian, energy = (load_model(path) for path in (out, hamiltonian_path, energy_path))
    atoms = molecule("CH3CH2OH")
    got, orbitals_of, energy_of = (_predict(model, atoms) for model in (combined, hamiltonian, energy))
    np.testing.assert_allclose(got.orbital_energies, orbitals_of.orbital_energies, rtol=0, atol=1e-12)
    np.testing.assert_allclose(got.gap_uncertainty, orbitals_of.gap_uncertainty, rtol=0, atol=1e-12)
    np.testing.assert_allclose(got.energy, energy_of.energy, rtol=0, atol=1e-10)
    np.testing.assert_allclose(got.forces, energy_of.forces, rtol=0, atol=1e-10)
    np.testing.assert_allclose(got.energy_uncertainty, energy_of.energy_uncertainty, rtol=0, atol=1e-12)
    # the heads really differ, so the checks above could fail
    assert abs(float(energy_of.energy) - float(orbitals_of.energy)) > 1e-3
    assert np.abs(np.asarray(energy_of.orbital_energies) - np.asarray(orbitals_of.orbital_energies)).max() > 1e-3


def test_combined_metadata_records_both_sources(two_models, tmp_path):
    hamiltonian_path, energy_path = two_models
    out = tmp_path / "combined.pt"
    metadata = combine_files(hamiltonian_path, energy_path, out).metadata
    assert metadata["uncertainty_thresholds"] == {"gap": 3.0, "energy": 4.0, "forces": 5.0}
    assert metadata["energy_calibration"] == {"damping_width_eV": 0.2}
    assert metadata["command"] == "mlham train a.db --out hamiltonian.pt"
    assert metadata["largest_molecule_atoms"] == 20
    assert metadata["energy_head_from"]["command"] == "mlham train b.db --out energy.pt"
    assert metadata["energy_head_from"]["sha256"] == sha256(energy_path)
    assert metadata["combine_command"].startswith("mlham combine --hamiltonian ")
    assert load_model(out).metadata == metadata


def test_different_architectures_are_refused(two_models, tmp_path):
    other = tmp_path / "plain.pt"
    save_model(random_tiny_model(seed=0), other, {})
    with pytest.raises(ValueError, match=r"differ in settings .*energy_baseline.*cannot be combined"):
        combine_files(two_models[0], other, tmp_path / "out.pt")
    assert not (tmp_path / "out.pt").exists()


def test_cli_writes_the_combined_file_and_refuses_to_overwrite_a_source(two_models, tmp_path, capsys):
    hamiltonian_path, energy_path = two_models
    out = tmp_path / "combined.pt"
    assert main(["combine", "--hamiltonian", str(hamiltonian_path), "--energy", str(energy_path),
                 "--out", str(out)]) == 0
    assert "thresholds gap 3, energy 4, forces 5" in capsys.readouterr().out
    assert main(["combine", "--hamiltonian", str(hamiltonian_path), "--energy", str(energy_path),
                 "--out", str(energy_path)]) == 2
    assert "would overwrite one of the models it is made from" in capsys.readouterr().err
