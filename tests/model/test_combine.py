"""`mlham combine`: the Hamiltonian head of one model file with the energy head of another."""

import dataclasses

import numpy as np
import pytest
import torch
from ase.build import molecule

from ase_mlham.cli import main
from ase_mlham.model.card import sha256
from ase_mlham.model.combine import combine_files
from ase_mlham.model.io import load_model, save_model
from ase_mlham.model.model import MLHamModel
from ase_mlham.model.settings import with_energy_range
from ase_mlham.model.testing import random_tiny_delta_model, random_tiny_model, randomise


def _distinct_delta_model(seed: int, scale: float):
    """A random delta model whose calibration buffers and committee scales all differ from another seed's."""
    model = random_tiny_delta_model(seed=seed)
    head = model.energy_head
    with torch.no_grad():
        for buffer in (head.uncertainty_scale, head.damping_width, head.force_uncertainty_scale):
            buffer.mul_(scale)
        head.offsets.add_(scale)
        head.mean.add_(0.1 * scale)
        head.scale.mul_(scale)
        for name in ("orbital_scale", "gap_scale", "excitation_scale"):
            getattr(model.committee, name).fill_(scale)
    return model


@pytest.fixture(scope="module")
def two_models(tmp_path_factory):
    """Two delta models of the same architecture with different weights, thresholds and calibrations."""
    folder = tmp_path_factory.mktemp("combine")
    paths = folder / "hamiltonian.pt", folder / "energy.pt"
    splits = {"test": ["H2O/0"], "validation": ["H2O/1"]}
    save_model(_distinct_delta_model(0, 1.5), paths[0], {
        "command": "mlham train a.db --out hamiltonian.pt", "largest_molecule_atoms": 12, "splits": splits,
        "molecules": ["H2O", "NH3"], "databases": ["a.db"], "energy_calibration": {"damping_width_eV": 0.1},
        "uncertainty_thresholds": {"energy": 1.0, "forces": 2.0, "gap": 3.0}})
    save_model(_distinct_delta_model(5, 2.5), paths[1], {
        "command": "mlham train b.db --out energy.pt", "largest_molecule_atoms": 20, "splits": splits,
        "molecules": ["CH4", "H2O"], "databases": ["b.db"], "energy_calibration": {"damping_width_eV": 0.2},
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
    np.testing.assert_allclose(got.forces_uncertainty, energy_of.forces_uncertainty, rtol=0, atol=1e-12)
    np.testing.assert_allclose(got.member_orbital_energies, orbitals_of.member_orbital_energies, rtol=0, atol=1e-12)
    # the heads really differ, so the checks above could fail
    assert abs(float(energy_of.energy) - float(orbitals_of.energy)) > 1e-3
    assert abs(float(energy_of.gap_uncertainty) - float(orbitals_of.gap_uncertainty)) > 1e-3
    assert np.abs(np.asarray(energy_of.forces_uncertainty) - np.asarray(orbitals_of.forces_uncertainty)).max() > 1e-3
    assert np.abs(np.asarray(energy_of.orbital_energies) - np.asarray(orbitals_of.orbital_energies)).max() > 1e-3


def test_combined_metadata_records_both_sources(two_models, tmp_path):
    hamiltonian_path, energy_path = two_models
    out = tmp_path / "combined.pt"
    metadata = combine_files(hamiltonian_path, energy_path, out).metadata
    assert metadata["uncertainty_thresholds"] == {"gap": 3.0, "energy": 4.0, "forces": 5.0}
    assert metadata["energy_calibration"] == {"damping_width_eV": 0.2}
    assert metadata["command"] == "mlham train a.db --out hamiltonian.pt"
    assert metadata["largest_molecule_atoms"] == 12  # measured up to the smaller size for both heads
    assert metadata["molecules"] == ["CH4", "H2O", "NH3"] and metadata["databases"] == ["a.db", "b.db"]
    assert metadata["hamiltonian_file"]["sha256"] == sha256(hamiltonian_path)
    assert metadata["energy_head_from"]["command"] == "mlham train b.db --out energy.pt"
    assert metadata["energy_head_from"]["sha256"] == sha256(energy_path)
    assert metadata["combine_command"].startswith("mlham combine --hamiltonian ")
    assert load_model(out).metadata == metadata


def test_a_combination_passed_on_keeps_the_energy_heads_record(two_models, tmp_path):
    first, again = tmp_path / "first.pt", tmp_path / "again.pt"
    combine_files(*two_models, first)
    record = combine_files(two_models[0], first, again).metadata["energy_head_from"]
    assert record["command"] == "mlham train b.db --out energy.pt" and record["sha256"] == sha256(two_models[1])
    assert record["via"]["sha256"] == sha256(first)


def test_different_architectures_are_refused(two_models, tmp_path):
    other = tmp_path / "plain.pt"
    save_model(random_tiny_model(seed=0), other, {})
    with pytest.raises(ValueError, match=r"differ in settings hamiltonian_members: .*cannot be combined"):
        combine_files(two_models[0], other, tmp_path / "out.pt")
    hamiltonian = dataclasses.replace(random_tiny_model().settings, gate_channels=3)
    save_model(randomise(MLHamModel(hamiltonian)), other, {})
    with pytest.raises(ValueError, match=r"differ in settings .*gate_channels"):
        combine_files(other, two_models[1], tmp_path / "out.pt")
    assert not (tmp_path / "out.pt").exists()


def test_an_energy_head_on_its_own_descriptor_may_differ_in_range(tmp_path):
    """With separate energy descriptors only the Hamiltonian side must match: a softer energy range combines."""
    base = random_tiny_delta_model().settings
    own = dataclasses.replace(base, energy_descriptor=dataclasses.replace(base.descriptor, cutoff=4.5, lode=False))
    paths = tmp_path / "h.pt", tmp_path / "e.pt", tmp_path / "out.pt"
    save_model(randomise(MLHamModel(own), seed=1), paths[0], {})
    donor = randomise(MLHamModel(with_energy_range(own, cutoff=3.5, switch_width=1.5)), seed=2)
    save_model(donor, paths[1], {})
    combine_files(paths[0], paths[1], paths[2])
    combined = load_model(paths[2])
    assert combined.settings.energy_descriptor == donor.settings.energy_descriptor
    atoms = molecule("CH3CH2OH")
    np.testing.assert_allclose(_predict(combined, atoms).forces, _predict(donor, atoms).forces, rtol=0, atol=1e-10)


def test_different_held_out_frames_and_old_formats_are_refused(two_models, tmp_path):
    model = load_model(two_models[1])
    other = tmp_path / "other.pt"
    save_model(model, other, {**model.metadata, "splits": {"test": ["NH3/0"]}})
    with pytest.raises(ValueError, match="hold out different test frames"):
        combine_files(two_models[0], other, tmp_path / "out.pt")
    contents = torch.load(two_models[1], weights_only=True)
    torch.save({**contents, "format_version": 4}, other)
    with pytest.raises(ValueError, match="has model format version 4; combine reads version 5 only"):
        combine_files(two_models[0], other, tmp_path / "out.pt")


def test_cli_writes_the_combined_file_and_refuses_to_overwrite_a_source(two_models, tmp_path, capsys):
    hamiltonian_path, energy_path = two_models
    out = tmp_path / "combined.pt"
    assert main(["combine", "--hamiltonian", str(hamiltonian_path), "--energy", str(energy_path),
                 "--out", str(out)]) == 0
    assert "thresholds gap 3, energy 4, forces 5" in capsys.readouterr().out
    assert main(["combine", "--hamiltonian", str(hamiltonian_path), "--energy", str(energy_path),
                 "--out", str(energy_path)]) == 2
    assert "would overwrite one of the models it is made from" in capsys.readouterr().err
