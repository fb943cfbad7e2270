"""Input checks shared by the torch entry points (integrals, descriptors).

Validated once at the boundary; messages name the argument, what was expected
and what was received (``TypeError`` for types, ``ValueError`` for shapes and values).
"""

from __future__ import annotations

import numpy as np
import torch


def check_numbers_and_positions(numbers, positions) -> np.ndarray:
    """Check atomic ``numbers`` ``(n_atoms,)`` and a finite float tensor ``positions`` ``(n_atoms, 3)``.

    Returns the numbers as an ``int64`` array. Element support is left to the caller.
    """
    if isinstance(numbers, torch.Tensor):
        numbers = numbers.detach().cpu().numpy()
    array = np.asarray(numbers)
    if array.ndim != 1:
        raise ValueError(f"numbers must be a 1-D sequence of atomic numbers, got shape {array.shape}")
    if array.size and not np.issubdtype(array.dtype, np.integer):
        raise TypeError(f"numbers must hold integer atomic numbers, got dtype {array.dtype}")
    if not isinstance(positions, torch.Tensor):
        raise TypeError(
            f"positions must be a torch.Tensor of shape (n_atoms, 3) in Angstrom, got {type(positions).__name__}"
        )
    if not positions.is_floating_point():
        raise TypeError(f"positions must have a floating-point dtype, got {positions.dtype}")
    if positions.shape != (len(array), 3):
        raise ValueError(
            f"positions must have shape (n_atoms, 3) = ({len(array)}, 3) to match numbers, "
            f"got {tuple(positions.shape)}"
        )
    if not bool(torch.isfinite(positions).all()):
        raise ValueError("positions must be finite, got NaN or infinite values")
    return array.astype(np.int64)
