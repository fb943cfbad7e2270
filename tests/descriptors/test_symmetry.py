"""Every feature block is equivariant: rotation, inversion, permutation, translation."""

import numpy as np
import pytest
import torch
from ase.build import molecule

from ase_mlham.descriptors import DescriptorSettings, FeatureCalculator
from ase_mlham.descriptors.testing import assert_blocks_transform, random_rotation, transform_block


@pytest.fixture(scope="module", params=["species", "bond-charges"])
def calculator(request):
    return FeatureCalculator(DescriptorSettings(lode_sources=request.param))


@pytest.fixture(scope="module")
def acetamide():
    """CH3CONH2 with every species, slightly distorted so that no symmetry hides errors."""
    atoms = molecule("CH3CONH2")
    atoms.positions += np.random.default_rng(0).normal(scale=0.05, size=atoms.positions.shape)
    return atoms


def _features(calculator, atoms, positions=None):
    positions = atoms.positions if positions is None else positions
    return calculator(atoms.numbers, torch.tensor(positions, dtype=torch.float64))


@pytest.mark.parametrize("improper", [False, True])
def test_rotation_and_inversion(calculator, acetamide, improper):
    rotation = random_rotation(11, improper)
    reference = _features(calculator, acetamide)
    rotated = _features(calculator, acetamide, acetamide.positions @ rotation.numpy().T)
    assert_blocks_transform(reference, rotated, rotation, atol=1e-10)


def test_pure_inversion_multiplies_by_parity(calculator, acetamide):
    reference = _features(calculator, acetamide)
    inverted = _features(calculator, acetamide, -acetamide.positions)
    for name, blocks in reference.all_blocks().items():
        for (lam, sigma), block in blocks.items():
            expected = sigma * (-1) ** lam * block.values
            assert torch.allclose(inverted.all_blocks()[name][(lam, sigma)].values, expected, atol=1e-10), (name, lam)


def test_invariants_unchanged_and_block_keys(calculator, acetamide):
    reference = _features(calculator, acetamide)
    rotated = _features(calculator, acetamide, acetamide.positions @ random_rotation(5).numpy().T)
    for name in ("onsite", "pair", "pair_symmetric", "pair_antisymmetric"):
        before, after = reference.all_blocks()[name][(0, 1)].values, rotated.all_blocks()[name][(0, 1)].values
        assert torch.allclose(before, after, rtol=1e-10, atol=1e-12)
        assert {lam for lam, _ in reference.all_blocks()[name]} == {0, 1, 2}
        assert {sigma for _, sigma in reference.all_blocks()[name]} == {1, -1}
    for key, block in reference.onsite.items():
        assert set(block.families) >= ({"nu2", "lode"} if key != (0, -1) else {"nu3"})


def test_translation_changes_nothing(calculator, acetamide):
    reference = _features(calculator, acetamide)
    moved = _features(calculator, acetamide, acetamide.positions + np.array([3.1, -70.2, 12.5]))
    assert_blocks_transform(reference, moved, torch.eye(3, dtype=torch.float64), atol=1e-10)


def test_permutation_permutes_samples(calculator, acetamide):
    permutation = np.random.default_rng(3).permutation(len(acetamide))
    reference = _features(calculator, acetamide)
    permuted_atoms = acetamide[permutation]
    permuted = _features(calculator, permuted_atoms)
    for key, block in reference.onsite.items():
        assert torch.allclose(permuted.onsite[key].values, block.values[permutation], atol=1e-10)
    assert torch.allclose(permuted.density, reference.density[permutation], atol=1e-12)
    # ordered pairs: (a, b) in the permuted structure is (p[a], p[b]) in the reference
    row_of = {tuple(pair): row for row, pair in enumerate(reference.pairs)}
    for key, block in reference.pair.items():
        rows = [row_of[(permutation[a], permutation[b])] for a, b in permuted.pairs]
        assert len(rows) == len(reference.pairs)
        assert torch.allclose(permuted.pair[key].values, block.values[rows], atol=1e-10)
    # unordered same-species pairs: the antisymmetric combination changes sign with the order
    row_of = {tuple(pair): row for row, pair in enumerate(reference.pair_symmetric[(0, 1)].samples)}
    for key in reference.pair_symmetric:
        plus, minus = reference.pair_symmetric[key].values, reference.pair_antisymmetric[key].values
        new_plus, new_minus = permuted.pair_symmetric[key].values, permuted.pair_antisymmetric[key].values
        for row, (a, b) in enumerate(permuted.pair_symmetric[key].samples):
            i, j = permutation[a], permutation[b]
            sign = 1.0 if i < j else -1.0
            old = row_of[(min(i, j), max(i, j))]
            assert torch.allclose(new_plus[row], plus[old], atol=1e-10)
            assert torch.allclose(new_minus[row], sign * minus[old], atol=1e-10)


def test_symmetrised_pairs_are_combinations_of_ordered_pairs(calculator, acetamide):
    features = _features(calculator, acetamide)
    row_of = {tuple(pair): row for row, pair in enumerate(features.pairs)}
    for key, block in features.pair_symmetric.items():
        for row, (i, j) in enumerate(block.samples):
            assert i < j and acetamide.numbers[i] == acetamide.numbers[j]
            forward, backward = features.pair[key].values[row_of[(i, j)]], features.pair[key].values[row_of[(j, i)]]
            assert torch.allclose(block.values[row], (forward + backward) / np.sqrt(2), atol=1e-14)
            assert torch.allclose(features.pair_antisymmetric[key].values[row], (forward - backward) / np.sqrt(2),
                                  atol=1e-14)
    expected = {(i, j) for i, j in features.pairs if i < j and acetamide.numbers[i] == acetamide.numbers[j]}
    assert {tuple(p) for p in features.pair_symmetric[(0, 1)].samples} == expected


def test_transform_block_helper_detects_a_wrong_block(calculator, acetamide):
    reference = _features(calculator, acetamide)
    rotation = random_rotation(2)
    block = reference.onsite[(1, 1)]
    assert not torch.allclose(transform_block(block, rotation), block.values, atol=1e-3)
