"""The model's physics: symmetric H', invariant spectra and energies, forces = -dE/dR, locality."""

import dataclasses

import numpy as np
import pytest
import torch
from ase import Atoms
from ase.build import molecule

from ase_mlham.basis import STO3G_SHELLS, ao_slices
from ase_mlham.descriptors.testing import random_rotation
from ase_mlham.model.model import MLHamModel
from ase_mlham.model.settings import PRESETS
from ase_mlham.model.testing import randomise

from .conftest import TINY_SEPARATE_ENERGY_SETTINGS, TINY_SETTINGS


@pytest.fixture(scope="module")
def acetamide():
    atoms = molecule("CH3CONH2")
    atoms.positions += np.random.default_rng(1).normal(scale=0.05, size=atoms.positions.shape)
    return atoms


def ao_rotation(numbers, rotation):
    """The orthogonal AO-space matrix U with H'(R x) = U H'(x) U^T: p blocks rotate as vectors."""
    n_ao = ao_slices(numbers)[-1].stop
    u = torch.zeros(n_ao, n_ao, dtype=torch.float64)
    offset = 0
    for z in numbers:
        for shell in STO3G_SHELLS[int(z)]:
            if shell.l == 0:
                u[offset, offset] = 1.0
            else:
                u[offset:offset + 3, offset:offset + 3] = rotation  # Cartesian (x, y, z) order
            offset += 2 * shell.l + 1
    return u


def test_hamiltonian_is_symmetric_and_spectrum_sorted(random_model, acetamide):
    prediction = random_model.predict(acetamide.numbers, acetamide.positions)
    h = prediction.hamiltonian
    assert h.shape == (25, 25)
    assert torch.equal(h, h.T)
    assert torch.all(torch.diff(prediction.orbital_energies) >= 0)
    assert prediction.nocc == 16


@pytest.mark.parametrize("improper", [False, True])
def test_rotation_and_inversion(random_model, acetamide, improper):
    rotation = random_rotation(3, improper)
    reference = random_model.predict(acetamide.numbers, acetamide.positions)
    rotated = random_model.predict(acetamide.numbers, acetamide.positions @ rotation.numpy().T)
    u = ao_rotation(acetamide.numbers, rotation)
    assert torch.allclose(rotated.hamiltonian, u @ reference.hamiltonian @ u.T, atol=1e-10)
    assert torch.allclose(rotated.orbital_energies, reference.orbital_energies, atol=1e-10)
    assert abs(float(rotated.energy - reference.energy)) < 1e-10
    assert torch.allclose(rotated.forces, reference.forces @ rotation.T, atol=1e-10)


def test_translation_and_permutation(random_model, acetamide):
    reference = random_model.predict(acetamide.numbers, acetamide.positions)
    moved = random_model.predict(acetamide.numbers, acetamide.positions + [3.0, -1.0, 7.5])
    assert torch.allclose(moved.orbital_energies, reference.orbital_energies, atol=1e-10)
    order = np.random.default_rng(0).permutation(len(acetamide))
    permuted = random_model.predict(acetamide.numbers[order], acetamide.positions[order])
    assert torch.allclose(permuted.orbital_energies, reference.orbital_energies, atol=1e-10)
    assert abs(float(permuted.energy - reference.energy)) < 1e-10
    assert torch.allclose(permuted.forces, reference.forces[order], atol=1e-10)


def test_forces_are_minus_the_energy_gradient(random_model, acetamide):
    prediction = random_model.predict(acetamide.numbers, acetamide.positions)
    step = 1e-5
    for atom, axis in [(0, 0), (3, 2), (8, 1)]:
        plus, minus = acetamide.positions.copy(), acetamide.positions.copy()
        plus[atom, axis] += step
        minus[atom, axis] -= step
        numeric = -(random_model.predict(acetamide.numbers, plus, forces=False).energy
                    - random_model.predict(acetamide.numbers, minus, forces=False).energy) / (2 * step)
        assert abs(float(numeric - prediction.forces[atom, axis])) < 1e-6


def test_pairs_beyond_the_pair_cutoff_are_zero(random_model):
    cutoff = TINY_SETTINGS.descriptor.pair_cutoff
    atoms = Atoms("COH2", positions=[[0, 0, 0], [1.2, 0, 0], [-0.6, 0.9, 0], [cutoff + 0.4, 0, 0]])
    h = random_model.predict(atoms.numbers, atoms.positions, forces=False).hamiltonian
    far, carbon = ao_slices(atoms.numbers)[3], ao_slices(atoms.numbers)[0]
    assert torch.all(h[far, carbon] == 0)
    assert torch.any(h[ao_slices(atoms.numbers)[1], carbon] != 0)


def test_far_apart_copies_are_additive(random_model):
    water = molecule("H2O")
    single = random_model.predict(water.numbers, water.positions)
    shifted = water.copy()
    shifted.positions += [100.0, 0, 0]
    pair = water + shifted
    double = random_model.predict(pair.numbers, pair.positions)
    union = torch.sort(torch.cat([single.orbital_energies] * 2)).values
    # every feature, LODE included (lode_cutoff of the presets), ends well before 100 A
    assert torch.allclose(double.orbital_energies, union, atol=1e-10)
    assert abs(float(double.energy - 2 * single.energy)) < 1e-10
    assert torch.allclose(double.forces[:3], single.forces, atol=1e-10)


@pytest.mark.parametrize("gap", [5.6, 8.0])
@pytest.mark.parametrize("preset", ["lode", "neutral-lode", "local-hamiltonian", "no-lode"])
def test_molecules_beyond_the_pair_cutoff_interact_only_through_lode(preset, gap):
    # the local features reach pair_cutoff + cutoff_width (5.5 A) at most, LODE 12.5 A: two molecules whose
    # nearest atoms are 5.6-8.5 A apart have the orbital energies of each alone exactly when the Hamiltonian
    # has no LODE features, and additive energies and forces when neither head has
    settings = PRESETS[preset]
    reach = settings.descriptor.pair_cutoff + settings.descriptor.cutoff_width
    model = randomise(MLHamModel(settings)).eval()
    water, ammonia = molecule("H2O"), molecule("NH3")
    ammonia.positions += [0.0, 0.0, water.positions[:, 2].max() - ammonia.positions[:, 2].min() + gap]
    pair = water + ammonia
    nearest = np.linalg.norm(water.positions[:, None] - ammonia.positions[None], axis=-1).min()
    assert reach < nearest < 8.5
    alone = [model.predict(part.numbers, part.positions) for part in (water, ammonia)]
    both = model.predict(pair.numbers, pair.positions)
    union = torch.sort(torch.cat([result.orbital_energies for result in alone])).values
    independent_spectra = torch.allclose(both.orbital_energies, union, atol=1e-10)
    assert independent_spectra == (preset not in ("lode", "neutral-lode"))
    additive = abs(float(both.energy - alone[0].energy - alone[1].energy)) < 1e-10
    assert additive == (preset == "no-lode")
    assert torch.allclose(both.forces[:3], alone[0].forces, atol=1e-10) == (preset == "no-lode")


def test_separate_energy_descriptor_feeds_the_energy_head_only():
    shared, separate = MLHamModel(TINY_SETTINGS), MLHamModel(TINY_SEPARATE_ENERGY_SETTINGS)
    assert shared.energy_descriptor is shared.descriptor
    assert separate.energy_descriptor.settings == TINY_SEPARATE_ENERGY_SETTINGS.energy_descriptor
    assert separate.group_sizes == shared.group_sizes  # the Hamiltonian head is unchanged
    water = molecule("H2O")
    invariants = separate.energy_features(water.numbers, torch.tensor(water.positions))
    assert invariants.shape == (3, separate.n_energy_invariants)
    assert separate.n_energy_invariants > shared.n_energy_invariants


def test_energy_descriptor_of_other_species_is_refused():
    other = dataclasses.replace(TINY_SETTINGS.descriptor, species=(1, 6, 8))
    with pytest.raises(ValueError, match="energy_descriptor species"):
        dataclasses.replace(TINY_SETTINGS, energy_descriptor=other)


def test_unknown_element_is_named():
    model = MLHamModel(TINY_SETTINGS)
    with pytest.raises(ValueError, match="does not know element.*Si.*supports H, C, N, O"):
        model.predict([14, 1, 1, 1, 1], np.eye(5, 3) * 1.5)


def test_the_reused_block_layout_never_serves_another_structure(random_model):
    """The model keeps the last structure's block layout: a new molecule, or the same one whose pair list
    changed, gets its own, and every H' equals that of a model that never saw another structure."""
    import copy

    from ase_mlham.model.inputs import unordered_pairs

    water, methanol = molecule("H2O"), molecule("CH3OH")
    stretched = methanol.copy()
    stretched.positions[0] += [0.0, 0.0, 5.0]  # the C atom leaves some pairs' range: a shorter pair list
    structures = [water, methanol, stretched, methanol, water]
    pair_counts = {len(unordered_pairs(random_model.features(a.numbers, torch.tensor(a.positions))))
                   for a in (methanol, stretched)}
    assert len(pair_counts) == 2
    for atoms in structures:
        fresh = copy.deepcopy(random_model)
        fresh._last_layout = None
        expected = fresh.electronic(atoms.numbers, torch.tensor(atoms.positions))["hamiltonian"]
        got = random_model.electronic(atoms.numbers, torch.tensor(atoms.positions))["hamiltonian"]
        assert torch.equal(got, expected)


def test_pair_features_in_parts_give_the_same_hamiltonian_and_committee(acetamide, monkeypatch):
    """Large molecules are computed a part of the pair list at a time (bounded memory): the shipped
    model's H', eigenvalues and committee uncertainties do not depend on the part size."""
    from ase_mlham.calculator import load_default_model
    from ase_mlham.model import model as model_module

    model = load_default_model().requires_grad_(False)
    positions = torch.tensor(acetamide.positions)
    whole = model.electronic(acetamide.numbers, positions)
    monkeypatch.setattr(model_module, "PAIRS_PER_PART", 4)
    model._last_layout = None
    parts = model.electronic(acetamide.numbers, positions)
    assert set(parts) == set(whole)
    for name, value in whole.items():
        if name == "member_hamiltonians":  # assembled one member at a time
            value, parts[name] = torch.stack(list(value)), torch.stack(list(parts[name]))
        torch.testing.assert_close(parts[name], value, rtol=0, atol=1e-12, msg=name)
