"""The invariants-only fast path, and the optional range of the LODE sum."""

import dataclasses

import numpy as np
import pytest
import torch
from ase.build import molecule

from ase_mlham.descriptors import FeatureCalculator
from ase_mlham.descriptors.settings import DescriptorSettings


@pytest.mark.parametrize("lode", [True, False])
def test_invariants_equal_the_onsite_scalar_block(lode):
    calculator = FeatureCalculator(DescriptorSettings(lode=lode))
    atoms = molecule("CH3CONH2")
    positions = torch.tensor(atoms.positions, dtype=torch.float64)
    full = calculator(atoms.numbers, positions).onsite[(0, 1)].values[:, 0, :]
    fast = calculator.invariants(atoms.numbers, positions)
    assert fast.shape == full.shape
    assert torch.allclose(fast, full, rtol=0, atol=1e-13)


def _lode(settings, positions, numbers):
    return FeatureCalculator(settings)(numbers, torch.tensor(positions, dtype=torch.float64)).lode_potential


def test_lode_range_switches_distant_atoms_off_smoothly():
    settings = DescriptorSettings(lode_cutoff=10.0)
    water = molecule("H2O")
    numbers = np.append(water.numbers, 6)
    direction = np.array([0.6, 0.8, 0.0])
    far = [_lode(settings, np.vstack([water.positions, d * direction]), numbers)[:3] for d in (10.8, 30.0)]
    # beyond the range: no trace of the distant atom (up to summation order)
    assert torch.allclose(far[0], far[1], rtol=0, atol=1e-15)
    alone = _lode(settings, water.positions, water.numbers)
    assert torch.allclose(far[0], alone, rtol=0, atol=1e-15)
    # inside the switching region the change is continuous
    near = [_lode(settings, np.vstack([water.positions, d * direction]), numbers)[:3] for d in (9.7, 9.7 + 1e-6)]
    assert float((near[0] - near[1]).abs().max()) < 1e-4  # bounded slope: ~3.7 switched off over 0.5 A
    exact = _lode(dataclasses.replace(settings, lode_cutoff=None), np.vstack([water.positions, 9.0 * direction]),
                  numbers)[:3]
    assert not torch.allclose(exact, alone)


def test_lode_range_must_exceed_the_local_cutoffs():
    with pytest.raises(ValueError, match="lode_cutoff must be None or a distance beyond"):
        DescriptorSettings(lode_cutoff=4.0)
