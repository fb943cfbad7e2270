"""Clebsch-Gordan tensor products of equivariant sets."""

import numpy as np
import pytest
import torch

from ase_mlham.descriptors import EquivariantSet, tensor_product, wigner_d_real
from ase_mlham.descriptors.equivariants import SeparableSet
from ase_mlham.descriptors.radial import _regularised_lower_gamma
from ase_mlham.descriptors.testing import random_rotation


def _random_set(n_samples, n_channels, max_angular, seed):
    generator = torch.Generator().manual_seed(seed)
    blocks = {(l, 1): torch.randn(n_samples, 2 * l + 1, n_channels, dtype=torch.float64, generator=generator)
              for l in range(max_angular + 1)}
    labels = np.arange(n_channels, dtype=np.int64)[:, None]
    return EquivariantSet(blocks, {key: labels for key in blocks}, ("channel",))


def test_symmetric_product_keeps_each_unordered_pair_once():
    density = _random_set(4, 3, 2, seed=0)
    full = tensor_product(density, density, 2)
    reduced = tensor_product(density, density, 2, symmetric=True)
    for key, block in reduced.blocks.items():
        rows = {tuple(row): k for k, row in enumerate(full.properties[key])}
        for k, row in enumerate(reduced.properties[key]):
            l1, _, q1, l2, _, q2 = row
            assert (l1, q1) <= (l2, q2)
            assert torch.allclose(block[:, :, k], full.blocks[key][:, :, rows[tuple(row)]])
    # the dropped ones are copies (up to sign) or vanish: the full (l, l) -> lambda odd diagonal is zero
    lam_one = full.blocks[(1, -1)]
    diagonal = [k for k, row in enumerate(full.properties[(1, -1)]) if row[0] == row[3] and row[2] == row[5]]
    assert diagonal and float(lam_one[:, :, diagonal].abs().max()) < 1e-14


def test_separable_operand_matches_materialised_blocks_and_gathering():
    left = _random_set(3, 2, 2, seed=1)
    generator = torch.Generator().manual_seed(2)
    index = torch.tensor([0, 2, 2, 1, 0])
    angular = {(l, 1): torch.randn(5, 2 * l + 1, dtype=torch.float64, generator=generator) for l in range(3)}
    radial = {(l, 1): torch.randn(5, 4, dtype=torch.float64, generator=generator) for l in range(3)}
    labels = {key: np.arange(4, dtype=np.int64)[:, None] for key in angular}
    separable = SeparableSet(angular, radial, labels, ("radial",))
    dense = EquivariantSet(separable.blocks, labels, ("radial",))
    fast = tensor_product(left, separable, 2, left_index=index)
    reference = tensor_product(left.select_samples(index), dense, 2)
    for key in reference.blocks:
        assert torch.allclose(fast.blocks[key], reference.blocks[key], atol=1e-13)
        assert np.array_equal(fast.properties[key], reference.properties[key])
    # gathering the right operand instead
    right_index = torch.tensor([1, 1, 0, 2, 0])
    gathered = tensor_product(dense, left, 2, right_index=right_index)
    reference = tensor_product(dense, left.select_samples(right_index), 2)
    for key in reference.blocks:
        assert torch.allclose(gathered.blocks[key], reference.blocks[key], atol=1e-13)


def test_products_are_equivariant():
    a = _random_set(2, 2, 3, seed=3)
    rotation = random_rotation(8)
    rotated = EquivariantSet(
        {key: torch.einsum("mk,skq->smq", wigner_d_real(key[0], rotation), v) for key, v in a.blocks.items()},
        a.properties, a.names,
    )
    inner = tensor_product(a, a, 3, symmetric=True)
    triple = tensor_product(inner, a, 2, labels=("12", "3"))
    triple_rotated = tensor_product(tensor_product(rotated, rotated, 3, symmetric=True), rotated, 2, labels=("12", "3"))
    for (lam, sigma), block in triple.blocks.items():
        expected = torch.einsum("mk,skq->smq", wigner_d_real(lam, rotation), block)
        assert torch.allclose(triple_rotated.blocks[(lam, sigma)], expected, atol=1e-12)


def test_with_properties_false_gives_the_same_values():
    a = _random_set(2, 3, 2, seed=4)
    labelled = tensor_product(a, a, 2, symmetric=True)
    bare = tensor_product(a, a, 2, symmetric=True, with_properties=False, concatenate=False)
    assert bare.properties == {}
    for key, block in labelled.blocks.items():
        assert torch.equal(torch.cat(bare.blocks[key], dim=2), block)


def test_separable_operand_rejects_right_index():
    a = _random_set(2, 1, 1, seed=5)
    separable = SeparableSet({(0, 1): torch.ones(2, 1, dtype=torch.float64)}, {(0, 1): torch.ones(2, 1, dtype=torch.float64)},
                             {(0, 1): np.zeros((1, 1), dtype=np.int64)}, ("r",))
    with pytest.raises(ValueError, match="right_index is not supported"):
        tensor_product(a, separable, 1, right_index=torch.tensor([0, 1]))


def test_lower_gamma_broadcasts_over_orders():
    z = torch.tensor([[0.01], [2.5], [3.5], [40.0]], dtype=torch.float64)
    orders = torch.tensor([1.5, 2.5, 3.5, 4.5, 5.5], dtype=torch.float64)
    together = _regularised_lower_gamma(orders, z)
    for k, order in enumerate(orders.tolist()):
        assert torch.allclose(together[:, k], _regularised_lower_gamma(order, z[:, 0]), rtol=1e-14)
