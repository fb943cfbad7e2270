"""Continuity across every cutoff and autograd gradients against finite differences."""

import numpy as np
import pytest
import torch
from ase.build import molecule

from ase_mlham.descriptors import DescriptorSettings, FeatureCalculator


def _weights(features, seed):
    """Fixed random weights per (block family, key): a linear function independent of the sample set."""
    generator = torch.Generator().manual_seed(seed)
    weights = {}
    for name, blocks in sorted(features.all_blocks().items()):
        for key, block in sorted(blocks.items()):
            weights[(name, key)] = torch.randn(block.values.shape[1:], dtype=torch.float64, generator=generator)
    return weights


def _linear(features, weights, sample_weights=None):
    """sum over samples and properties of w * F (pair samples weighted alike, so vanishing pairs drop out)."""
    total = torch.zeros((), dtype=torch.float64)
    for name, blocks in features.all_blocks().items():
        for key, block in blocks.items():
            total = total + (block.values * weights[(name, key)]).sum()
    total = total + (features.density * 0.1).sum()
    if features.lode_potential is not None:
        total = total + (features.lode_potential * 0.01).sum()
    return total


def _value_and_gradient(calculator, numbers, positions, weights):
    positions = torch.tensor(positions, dtype=torch.float64, requires_grad=True)
    features = calculator(numbers, positions)
    value = _linear(features, weights)
    (gradient,) = torch.autograd.grad(value, positions)
    return features, float(value.detach()), gradient.numpy()


@pytest.mark.parametrize("lode_sources", ["species", "bond-charges"])
def test_autograd_matches_central_finite_differences(lode_sources):
    calculator = FeatureCalculator(DescriptorSettings(lode_sources=lode_sources))
    atoms = molecule("CH3CONH2")
    atoms.positions += np.random.default_rng(1).normal(scale=0.05, size=atoms.positions.shape)
    reference = calculator.from_atoms(atoms)
    weights = _weights(reference, seed=5)
    _, _, gradient = _value_and_gradient(calculator, atoms.numbers, atoms.positions, weights)
    direction = np.random.default_rng(2).normal(size=atoms.positions.shape)
    step = 1e-4
    plus = _value_and_gradient(calculator, atoms.numbers, atoms.positions + step * direction, weights)[1]
    minus = _value_and_gradient(calculator, atoms.numbers, atoms.positions - step * direction, weights)[1]
    finite = (plus - minus) / (2 * step)
    analytic = float(np.sum(gradient * direction))
    assert abs(finite - analytic) <= 1e-6 * abs(analytic)
    # and per Cartesian component of one atom
    for k in range(3):
        e = np.zeros_like(atoms.positions)
        e[2, k] = 1.0
        plus = _value_and_gradient(calculator, atoms.numbers, atoms.positions + step * e, weights)[1]
        minus = _value_and_gradient(calculator, atoms.numbers, atoms.positions - step * e, weights)[1]
        assert abs((plus - minus) / (2 * step) - gradient[2, k]) <= 1e-6 * max(abs(gradient[2, k]), 1e-3)


@pytest.mark.parametrize("which", ["cutoff", "pair_cutoff", "lode_bond_cutoff"])
def test_features_and_gradients_continuous_across_cutoff(which):
    settings = DescriptorSettings(lode_sources="bond-charges" if which == "lode_bond_cutoff" else "species")
    calculator = FeatureCalculator(settings)
    radius = getattr(settings, which)
    numbers = np.array([6, 8, 1])
    # H moves along -x away from C; O sits on +x, so only the C-H distance crosses `radius`
    base = np.array([[0.0, 0.0, 0.0], [1.2, 0.1, 0.0], [0.0, 0.0, 0.0]])
    direction = np.array([-1.0, 0.05, 0.02]) / np.linalg.norm([-1.0, 0.05, 0.02])
    results = []
    # C1 switches: the gradient moves by O(delta) across; the bond switch sits where the potential is
    # large (2 A), so its step is ten times shorter for the same bound
    step = 1e-7 if which == "lode_bond_cutoff" else 1e-6
    for delta in (-step, step):
        positions = base.copy()
        positions[2] = (radius + delta) * direction
        results.append(positions)
    reference = calculator(numbers, torch.tensor(results[0]))
    weights = _weights(reference, seed=9)
    inside, value_in, grad_in = _value_and_gradient(calculator, numbers, results[0], weights)
    outside, value_out, grad_out = _value_and_gradient(calculator, numbers, results[1], weights)
    # no jump: the change is the first-order one (features are smooth, O(delta^2) residual)
    predicted = float(np.sum(0.5 * (grad_in + grad_out) * (results[1] - results[0])))
    assert abs(value_out - value_in - predicted) < 1e-9
    assert np.abs(grad_in - grad_out).max() < 1e-4
    assert np.abs(grad_in).max() > 1e-3  # the check is not vacuous
    if which == "lode_bond_cutoff":
        return  # 2 A is well inside the local cutoffs: every family changes at first order
    for key, block in inside.onsite.items():
        for family in ("nu2", "nu3"):  # local families: no O(delta) change, no jump
            if family in block.families:
                assert torch.allclose(block.family(family), outside.onsite[key].family(family), atol=1e-9)
    if which == "pair_cutoff":
        crossing = [row for row, (i, j) in enumerate(inside.pairs) if {i, j} == {0, 2}]
        assert len(crossing) == 2 and not any({i, j} == {0, 2} for i, j in outside.pairs)
        for block in inside.pair.values():
            assert float(block.values.detach()[crossing].abs().max()) < 1e-9
    else:
        assert any({i, j} == {0, 2} for i, j in outside.pairs)  # still a pair, only the density cutoff crossed
        assert torch.allclose(inside.density, outside.density, atol=1e-9)
