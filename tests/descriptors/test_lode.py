"""LODE: far-field decay r^-(l+1), exact multipole far field, and true long range."""

import math

import numpy as np
import torch
from ase.build import molecule

from ase_mlham.descriptors import DescriptorSettings, FeatureCalculator, spherical_harmonics


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
