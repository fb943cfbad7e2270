"""Neighbour lists of non-periodic systems (molecules, clusters).

Indices are found in NumPy on detached positions (they carry no gradient);
distances and vectors are recomputed in torch by the callers so that they stay
differentiable. Small systems use all pairs; larger ones a cell list with cubic
cells of edge ``cutoff``, whose cost grows linearly with the number of atoms.
"""

from __future__ import annotations

import numpy as np

__all__ = ["neighbor_list", "ALL_PAIRS_MAX_ATOMS"]

#: Up to this many atoms every pair is tested directly.
ALL_PAIRS_MAX_ATOMS = 128


def _all_pairs(positions: np.ndarray, cutoff: float) -> tuple[np.ndarray, np.ndarray]:
    difference = positions[None, :, :] - positions[:, None, :]
    squared = np.einsum("ijk,ijk->ij", difference, difference)
    mask = squared < cutoff * cutoff
    np.fill_diagonal(mask, False)
    first, second = np.nonzero(mask)
    return first.astype(np.int64), second.astype(np.int64)


def _cell_list(positions: np.ndarray, cutoff: float) -> tuple[np.ndarray, np.ndarray]:
    n_atoms = len(positions)
    origin = positions.min(axis=0)
    cells = np.floor((positions - origin) / cutoff).astype(np.int64)
    shape = cells.max(axis=0) + 3  # one empty layer on each side
    cells += 1
    strides = np.array([shape[1] * shape[2], shape[2], 1], dtype=np.int64)
    cell_id = cells @ strides
    order = np.argsort(cell_id, kind="stable")
    sorted_ids = cell_id[order]
    n_cells = int(np.prod(shape))
    starts = np.searchsorted(sorted_ids, np.arange(n_cells), side="left")
    counts = np.searchsorted(sorted_ids, np.arange(n_cells), side="right") - starts

    firsts, seconds = [], []
    atoms = np.arange(n_atoms, dtype=np.int64)
    for dx in (-1, 0, 1):
        for dy in (-1, 0, 1):
            for dz in (-1, 0, 1):
                neighbour_cell = cell_id + dx * strides[0] + dy * strides[1] + dz * strides[2]
                count = counts[neighbour_cell]
                first = np.repeat(atoms, count)
                offsets = np.arange(count.sum()) - np.repeat(np.cumsum(count) - count, count)
                second = order[np.repeat(starts[neighbour_cell], count) + offsets]
                firsts.append(first)
                seconds.append(second)
    first = np.concatenate(firsts)
    second = np.concatenate(seconds)
    difference = positions[second] - positions[first]
    keep = (np.einsum("ij,ij->i", difference, difference) < cutoff * cutoff) & (first != second)
    first, second = first[keep], second[keep]
    sort = np.lexsort((second, first))
    return first[sort], second[sort]


def neighbor_list(positions: np.ndarray, cutoff: float) -> tuple[np.ndarray, np.ndarray]:
    """All ordered pairs ``(i, j)``, ``i != j``, with ``|r_j - r_i| < cutoff``.

    Parameters
    ----------
    positions
        Shape ``(n_atoms, 3)``, Angstrom (array-like; no periodic images).
    cutoff
        Angstrom, positive.

    Returns
    -------
    first, second
        ``int64`` arrays of shape ``(n_pairs,)``, sorted by ``(first, second)``;
        both ``(i, j)`` and ``(j, i)`` are present.
    """
    positions = np.asarray(positions, dtype=np.float64)
    if positions.ndim != 2 or positions.shape[1] != 3:
        raise ValueError(f"positions must have shape (n_atoms, 3), got {positions.shape}")
    if not cutoff > 0:
        raise ValueError(f"cutoff must be positive, got {cutoff!r}")
    if len(positions) <= ALL_PAIRS_MAX_ATOMS:
        return _all_pairs(positions, cutoff)
    return _cell_list(positions, cutoff)
