"""LODE: far-field decay r^-(l+1), exact multipole far field, true long range, neutral bond-charge sources."""

import math

import numpy as np
import pytest
import torch
from ase.build import molecule

from ase_mlham.descriptors import DescriptorSettings, FeatureCalculator, spherical_harmonics
from ase_mlham.descriptors.lode import bond_charge_sources, source_labels


def _far_field_constants(calculator):
    """c_nl with <n l m|V_j> -> c_nl Y_lm(r_hat) / r^(l+1) for a unit Gaussian far away."""
    basis, settings = calculator.lode_basis, calculator.settings
    b = 1.0 / (2 * settings.lode_gaussian_width**2)
    columns = []
    for l in range(basis.max_angular + 1):
        s = l + 1.5
        a = basis.exponents
        a_eff = a * b / (a + b)
        primitive = (b / (a + b)) ** s * 4 * math.pi / (2 * l + 1) * math.gamma(s) / (2 * a_eff**s)
        columns.append(basis.orthonormalisers[l] @ primitive)
    return np.stack(columns, axis=1)  # (n, l)


def test_far_field_is_the_multipole_sum():
    calculator = FeatureCalculator()
    group = molecule("CH4")
    probe = np.array([[18.0, -21.0, 25.0]])
    numbers = np.concatenate([group.numbers, [8]])
    positions = np.concatenate([group.positions, probe])
    features = calculator(numbers, torch.tensor(positions))
    constants = _far_field_constants(calculator)
    max_angular = calculator.settings.lode_max_angular
    for species_channel, z in enumerate(calculator.settings.species):
        members = np.flatnonzero(group.numbers == z)
        vectors = torch.tensor(positions[members] - probe)
        r = vectors.norm(dim=1, keepdim=True)
        l_of = torch.tensor([l for l in range(max_angular + 1) for _ in range(2 * l + 1)])
        multipole = (spherical_harmonics(vectors, max_angular) / r ** (l_of + 1)).sum(dim=0)  # (L^2,)
        expected = torch.tensor(constants)[:, l_of] * multipole
        actual = features.lode_potential[-1, species_channel]
        assert torch.allclose(actual, expected, rtol=1e-10, atol=1e-14), z


def test_lambda_channel_decays_as_inverse_power():
    calculator = FeatureCalculator()
    group = molecule("H2O")
    direction = np.array([0.3, -0.8, 0.52]) / np.linalg.norm([0.3, -0.8, 0.52])
    distances = np.array([40.0, 80.0])
    norms = []
    for distance in distances:
        positions = np.concatenate([group.positions, [distance * direction]])
        features = calculator(np.concatenate([group.numbers, [6]]), torch.tensor(positions))
        potential = features.lode_potential[-1].sum(dim=0)  # all species: (n, L^2)
        norms.append([float(potential[:, l * l : (l + 1) ** 2].norm()) for l in range(4)])
    norms = np.array(norms)
    slopes = np.log(norms[1] / norms[0]) / np.log(distances[1] / distances[0])
    assert np.allclose(slopes, -(np.arange(4) + 1), atol=0.05), slopes


def test_distant_atom_moves_only_the_long_range_features():
    settings = DescriptorSettings()
    calculator = FeatureCalculator(settings)
    group = molecule("CH3OH")
    far = np.array([[9.0, 1.0, -0.5]])
    assert np.linalg.norm(group.positions[:, None] - far[None], axis=-1).min() > settings.max_cutoff + 1
    numbers = np.concatenate([group.numbers, [7]])
    before = calculator(numbers, torch.tensor(np.concatenate([group.positions, far])))
    after = calculator(numbers, torch.tensor(np.concatenate([group.positions, far + [0.7, -0.9, 0.4]])))
    local = slice(0, len(group))
    for key, block in before.onsite.items():
        for family in ("nu2", "nu3"):
            if family in block.families:
                assert torch.equal(block.family(family)[local], after.onsite[key].family(family)[local])
    for key, block in before.pair.items():
        assert np.array_equal(block.samples, after.pair[key].samples)
        assert torch.equal(block.values, after.pair[key].values)
    change = (before.onsite[(0, 1)].family("lode")[local] - after.onsite[(0, 1)].family("lode")[local]).abs().max()
    assert float(change) > 1e-4
    assert float((before.lode_potential[local] - after.lode_potential[local]).abs().max()) > 1e-4


def test_lode_can_be_switched_off():
    calculator = FeatureCalculator(DescriptorSettings(lode=False))
    features = calculator.from_atoms(molecule("H2O"))
    assert features.lode_potential is None
    assert all("lode" not in block.families for block in features.onsite.values())


def _species_index(numbers, species=(1, 6, 7, 8)):
    return torch.tensor([species.index(int(z)) for z in numbers])


@pytest.mark.parametrize("lode_cutoff", [None, 6.8])
def test_bond_charges_are_increments_neutral_per_molecule(lode_cutoff):
    # methanol (H, C, O) and ammonia (H, N) 6 A apart; with a 6.8 A range, some of methanol's bonds are
    # in the switch as seen from ammonia's: every channel still sums to zero over each molecule
    methanol, ammonia = molecule("CH3OH"), molecule("NH3")
    ammonia.positions += [6.0, 1.0, 0.5]
    numbers = np.concatenate([methanol.numbers, ammonia.numbers])
    positions = torch.tensor(np.concatenate([methanol.positions, ammonia.positions]))
    charges = bond_charge_sources(positions, _species_index(numbers), 4, bond_cutoff=2.0,
                                  lode_cutoff=lode_cutoff, cutoff_width=0.5)
    assert source_labels((1, 6, 7, 8), "bond-charges") == [106, 107, 108, 607, 608, 708]
    n = len(methanol)
    assert charges.shape == (len(numbers), len(numbers), 6)
    zero = torch.zeros(len(numbers), 6, dtype=torch.float64)
    assert torch.allclose(charges[:, :n].sum(dim=1), zero, atol=1e-12)
    assert torch.allclose(charges[:, n:].sum(dim=1), zero, atol=1e-12)
    if lode_cutoff is not None:  # the check is not vacuous: the switch does cut into methanol
        seen = charges[n:, :n].abs().sum(dim=(1, 2)) / charges[:n, :n].abs().sum(dim=(1, 2)).mean()
        assert 0.0 < float(seen.min()) < 0.99
    # ammonia seen from methanol's C, no switch: only the H-N channel, -3 on N, +1 on each H
    if lode_cutoff is None:
        expected = torch.tensor([-3.0, 1.0, 1.0, 1.0], dtype=torch.float64)
        assert torch.allclose(charges[0, n:, 1], expected, atol=1e-12)
        assert float(charges[:, n:, [0, 2, 3, 4, 5]].abs().max()) == 0.0
        assert charges[n, :2, 4].tolist() == [1.0, -1.0]  # methanol's C-O bond: +1 on C, -1 on O


@pytest.mark.parametrize("sources, slope", [("species", -1.0), ("bond-charges", -2.0)])
def test_neutral_neighbour_is_a_monopole_only_for_species_sources(sources, slope):
    # the l = 0 potential a neutral water puts on a far atom: 1/r from species densities,
    # 1/r^2 (its bond dipoles) from bond charges
    calculator = FeatureCalculator(DescriptorSettings(lode_sources=sources))
    water = molecule("H2O")
    direction = np.array([0.3, -0.8, 0.52]) / np.linalg.norm([0.3, -0.8, 0.52])
    distances = np.array([40.0, 80.0])
    norms = []
    for distance in distances:
        positions = np.concatenate([water.positions, [distance * direction]])
        features = calculator(np.concatenate([water.numbers, [6]]), torch.tensor(positions))
        norms.append(float(features.lode_potential[-1, :, :, 0].norm()))
    assert np.log(norms[1] / norms[0]) / np.log(distances[1] / distances[0]) == pytest.approx(slope, abs=0.05)


def test_lode_sources_are_validated():
    with pytest.raises(ValueError, match="lode_sources must be 'species' or 'bond-charges'"):
        DescriptorSettings(lode_sources="charges")
    with pytest.raises(ValueError, match="needs at least two species"):
        DescriptorSettings(species=(1,), lode_sources="bond-charges")
    with pytest.raises(ValueError, match="lode_bond_cutoff must be a distance"):
        DescriptorSettings(lode_bond_cutoff=0.2)


@pytest.mark.parametrize("sources", ["species", "bond-charges"])
@pytest.mark.parametrize("lode_cutoff", [12.0, 5.0])
def test_pair_list_sum_equals_the_direct_sum(sources, lode_cutoff):
    """With a range switch the potential is summed over the pairs within reach only (O(N)): the same
    coefficients and gradients as the O(N^2) direct sum, for two molecules that straddle the switch."""
    from ase_mlham.descriptors.lode import (lode_coefficients, lode_pair_coefficients, lode_reach, pair_sources,
                                            species_sources)
    from ase_mlham.descriptors.neighbors import neighbor_list
    from ase_mlham.descriptors.radial import GaussianTypeBasis

    atoms = molecule("CH3CONH2") + molecule("C6H6")
    atoms.positions[9:] += [lode_cutoff - 1.0, 0.5, 0.0]
    atoms.rattle(0.05, seed=2)
    positions = torch.tensor(atoms.positions, requires_grad=True)
    species = torch.tensor([{1: 0, 6: 1, 7: 2, 8: 3}[z] for z in atoms.numbers])
    basis = GaussianTypeBasis(2, 2, 4.0)
    dense_sources = (species_sources(positions, species, 4, lode_cutoff, 0.5) if sources == "species"
                     else bond_charge_sources(positions, species, 4, 2.0, lode_cutoff, 0.5))
    dense = lode_coefficients(positions, dense_sources, basis, 1.0)
    first, second = (torch.as_tensor(index) for index in
                     neighbor_list(atoms.positions, lode_reach(sources, lode_cutoff, 2.0)))
    assert len(first) < len(atoms) * (len(atoms) - 1)  # the list leaves pairs out
    charges = pair_sources(positions, species, 4, first, second, sources, lode_cutoff, 0.5, 2.0)
    pairs = lode_pair_coefficients(positions, first, second, charges, basis, 1.0)
    torch.testing.assert_close(pairs, dense, rtol=0, atol=1e-12)
    weights = torch.randn_like(dense, generator=torch.Generator().manual_seed(0))
    (dense_gradient,) = torch.autograd.grad((dense * weights).sum(), positions)
    (pair_gradient,) = torch.autograd.grad((pairs * weights).sum(), positions)
    torch.testing.assert_close(pair_gradient, dense_gradient, rtol=0, atol=1e-11)
