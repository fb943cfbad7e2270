"""Property checks of equivariant features, reusable by the tests of other modules.

Every function states a symmetry property and raises ``AssertionError`` with the
largest deviation when it does not hold.
"""

from __future__ import annotations

import numpy as np
import torch

from .features import FeatureBlock, Features
from .spherical_harmonics import wigner_d_real

__all__ = ["transform_block", "assert_blocks_transform", "random_rotation"]


def random_rotation(seed: int, improper: bool = False) -> torch.Tensor:
    """A reproducible random rotation (det +1), or rotation-inversion (det -1), float64 ``(3, 3)``."""
    generator = np.random.default_rng(seed)
    q, r = np.linalg.qr(generator.normal(size=(3, 3)))
    q = q * np.sign(np.diag(r))
    if np.linalg.det(q) < 0:
        q[:, 0] = -q[:, 0]
    if improper:
        q = -q
    return torch.tensor(q, dtype=torch.float64)


def transform_block(block: FeatureBlock, rotation: torch.Tensor) -> torch.Tensor:
    """Values of ``block`` as they must be after ``positions -> positions @ rotation.T``.

    ``rotation`` may be improper (det -1): then the parity factor
    ``sigma * (-1)**lam`` is applied on top of the Wigner-D matrix of ``-rotation``.
    """
    rotation = rotation.to(torch.float64)
    sign = 1.0
    if torch.det(rotation) < 0:
        rotation = -rotation
        sign = float(block.sigma * (-1) ** block.lam)
    d = wigner_d_real(block.lam, rotation).to(block.values.dtype)
    return sign * torch.einsum("mk,skp->smp", d, block.values)


def assert_blocks_transform(
    reference: Features, transformed: Features, rotation: torch.Tensor, atol: float = 1e-10
) -> None:
    """Assert that every block of ``transformed`` equals the rotated block of ``reference``.

    The tolerance is ``atol * max(1, max |value|)`` per block.
    """
    for name, blocks in reference.all_blocks().items():
        other = transformed.all_blocks()[name]
        if set(blocks) != set(other):
            raise AssertionError(f"{name}: keys differ, {sorted(blocks)} vs {sorted(other)}")
        for key, block in blocks.items():
            if not np.array_equal(block.samples, other[key].samples):
                raise AssertionError(f"{name}{key}: samples differ")
            expected = transform_block(block, rotation)
            scale = max(1.0, float(block.values.abs().max())) if block.values.numel() else 1.0
            error = float((expected - other[key].values).abs().max()) if block.values.numel() else 0.0
            if error > atol * scale:
                raise AssertionError(f"{name}{key}: equivariance error {error:.3e} > {atol * scale:.3e}")
