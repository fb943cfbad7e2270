"""Entry point: input validation, bookkeeping, and known values of the nu=1 / nu=2 features."""

import math

import numpy as np
import pytest
import torch
from ase import Atoms
from ase.build import molecule

from ase_mlham.descriptors import (
    DescriptorSettings,
    FeatureCalculator,
    clebsch_gordan_real,
    compute_features,
    smooth_cutoff,
    solid_harmonics,
)


@pytest.fixture(scope="module")
def calculator():
    return FeatureCalculator()


@pytest.fixture(scope="module")
def methanol():
    return molecule("CH3OH")


def test_atoms_and_tensors_give_the_same_features(calculator, methanol):
    from_atoms = calculator.from_atoms(methanol)
    from_tensors = calculator(torch.tensor(methanol.numbers), torch.tensor(methanol.positions))
    convenience = compute_features(methanol)
    for name, blocks in from_atoms.all_blocks().items():
        for key, block in blocks.items():
            assert torch.equal(block.values, from_tensors.all_blocks()[name][key].values)
            assert torch.equal(block.values, convenience.all_blocks()[name][key].values)


def test_bookkeeping_is_explicit(calculator, methanol):
    features = calculator.from_atoms(methanol)
    n_atoms = len(methanol)
    assert features.density.shape == (n_atoms, 4, 6, 25)
    assert features.lode_potential.shape == (n_atoms, 4, 3, 16)
    for key, block in features.onsite.items():
        assert (block.lam, block.sigma) == key
        assert block.sample_names == ("atom",)
        assert np.array_equal(block.samples[:, 0], np.arange(n_atoms))
        assert block.values.shape[:2] == (n_atoms, 2 * key[0] + 1)
        stops = [s.stop for s in block.families.values()]
        assert stops[-1] == block.values.shape[2]
        for family, (names, labels) in block.properties.items():
            assert labels.shape == (block.families[family].stop - block.families[family].start, len(names))
    assert set(features.onsite[(0, 1)].families) == {"nu2", "nu3", "lode"}
    distances = np.linalg.norm(methanol.positions[features.pairs[:, 1]] - methanol.positions[features.pairs[:, 0]], axis=1)
    assert np.all(distances < calculator.settings.pair_cutoff) and len(features.pairs) == n_atoms * (n_atoms - 1)
    for key, block in features.pair.items():
        assert block.sample_names == ("first_atom", "second_atom")
        assert np.array_equal(block.samples, features.pairs)
        assert set(block.families) <= {"pair", "decorated"}


def test_float32_positions_give_float32_features(calculator, methanol):
    features = calculator(methanol.numbers, torch.tensor(methanol.positions, dtype=torch.float32))
    assert all(block.values.dtype == torch.float32 for block in features.onsite.values())
    reference = calculator.from_atoms(methanol)
    assert torch.allclose(features.onsite[(0, 1)].values.double(), reference.onsite[(0, 1)].values, rtol=1e-4, atol=1e-4)


def test_density_of_a_single_neighbour_is_the_analytic_projection(calculator):
    settings = calculator.settings
    vector = torch.tensor([0.9, -0.4, 1.7], dtype=torch.float64)
    features = calculator([6, 1], torch.stack([torch.zeros(3, dtype=torch.float64), vector]))
    distance = vector.norm()
    radial = calculator.density_basis.density(distance[None], settings.gaussian_width)[0]  # (n, l)
    radial = radial * smooth_cutoff(distance, settings.cutoff, settings.cutoff_width)
    l_of = [l for l in range(settings.max_angular + 1) for _ in range(2 * l + 1)]
    expected = radial[:, l_of] * solid_harmonics(vector, settings.max_angular)
    hydrogen = settings.species.index(1)
    assert torch.allclose(features.density[0, hydrogen], expected, atol=1e-14)
    assert features.density[0, [k for k in range(4) if k != hydrogen]].abs().max() == 0


def test_nu2_invariants_are_the_power_spectrum(calculator, methanol):
    features = calculator.from_atoms(methanol)
    block = features.onsite[(0, 1)]
    names, labels = block.properties["nu2"]
    values = block.family("nu2")[:, 0]
    column = {name: k for k, name in enumerate(names)}
    density = features.density
    species = list(calculator.settings.species)
    for row in np.random.default_rng(0).choice(len(labels), size=20, replace=False):
        label = labels[row]
        l = label[column["l_1"]]
        a1, n1 = species.index(label[column["species_1"]]), label[column["radial_1"]]
        a2, n2 = species.index(label[column["species_2"]]), label[column["radial_2"]]
        components = slice(l * l, (l + 1) ** 2)
        dot = (density[:, a1, n1, components] * density[:, a2, n2, components]).sum(dim=1)
        sign = float(torch.sign(clebsch_gordan_real(l, l, 0)[0, 0, 0]))
        assert torch.allclose(values[:, row], sign * dot / math.sqrt(2 * l + 1), atol=1e-12)


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"cutoff": -1.0}, ValueError, "cutoff must be a positive number"),
        ({"max_angular": 1}, ValueError, "max_angular must be an integer >= 2"),
        ({"species": (1, 1)}, ValueError, "species must hold distinct"),
        ({"species": [1, 6]}, TypeError, "species must be a non-empty tuple"),
        ({"compressed_max_radial": 9}, ValueError, "compressed_max_radial must not exceed"),
        ({"decorated_max_angular": 7}, ValueError, "decorated_max_angular must not exceed"),
        ({"cutoff_width": 4.5}, ValueError, "cutoff_width must be smaller"),
    ],
)
def test_settings_are_validated(kwargs, error, match):
    with pytest.raises(error, match=match):
        DescriptorSettings(**kwargs)


def test_settings_are_frozen():
    with pytest.raises(AttributeError):
        DescriptorSettings().cutoff = 3.0


def test_inputs_are_validated(calculator):
    positions = torch.zeros(2, 3, dtype=torch.float64)
    with pytest.raises(TypeError, match="positions must be a torch.Tensor"):
        calculator([1, 1], np.zeros((2, 3)))
    with pytest.raises(TypeError, match="floating-point dtype"):
        calculator([1, 1], torch.zeros(2, 3, dtype=torch.long))
    with pytest.raises(ValueError, match=r"positions must have shape \(n_atoms, 3\) = \(3, 3\)"):
        calculator([1, 1, 1], positions)
    with pytest.raises(ValueError, match="numbers must be a 1-D"):
        calculator([[1, 1]], positions)
    with pytest.raises(TypeError, match="numbers must hold integer"):
        calculator([1.0, 1.0], positions)
    with pytest.raises(ValueError, match=r"species \[16\] outside settings.species"):
        calculator([1, 16], positions)
    with pytest.raises(ValueError, match="positions must be finite"):
        calculator([1, 1], torch.tensor([[0.0, 0.0, 0.0], [float("nan"), 0.0, 0.0]], dtype=torch.float64))
    with pytest.raises(ValueError, match="at least one atom"):
        calculator([], torch.zeros(0, 3, dtype=torch.float64))
    with pytest.raises(TypeError, match="settings must be a DescriptorSettings"):
        FeatureCalculator({"cutoff": 4.0})
    with pytest.raises(ValueError, match="atoms must be non-periodic"):
        calculator.from_atoms(Atoms("H2", positions=[[0, 0, 0], [0, 0, 0.74]], cell=[5, 5, 5], pbc=True))


def test_single_atom_has_empty_pair_blocks(calculator):
    features = calculator([8], torch.zeros(1, 3, dtype=torch.float64))
    assert features.pairs.shape == (0, 2)
    assert all(block.values.shape[0] == 0 for block in features.pair.values())
    assert float(features.onsite[(0, 1)].values.abs().max()) == 0.0


def test_labels_reused_from_the_first_call_are_those_of_a_fresh_calculator(methanol):
    warm = FeatureCalculator()
    warm.from_atoms(molecule("C6H6"))
    reused = warm.from_atoms(methanol)
    fresh = FeatureCalculator().from_atoms(methanol)
    for name, blocks in fresh.all_blocks().items():
        for key, block in blocks.items():
            other = reused.all_blocks()[name][key]
            assert torch.equal(block.values, other.values)
            assert block.families == other.families
            for family, (names, labels) in block.properties.items():
                assert other.properties[family][0] == names
                assert np.array_equal(other.properties[family][1], labels)
