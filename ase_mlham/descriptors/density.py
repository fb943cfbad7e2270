r"""Atom-centred densities (nu = 1) and pair densities on the local basis.

The neighbour density of species a around atom i is a sum of normalised
Gaussians of width sigma, each scaled by the smooth cutoff :math:`f_c(r_{ij})`:

.. math:: \rho_i^a(\mathbf x) = \sum_{j \in a,\, j \ne i} f_c(r_{ij})\, g_\sigma(\mathbf x - \mathbf r_{ij}),
          \qquad \mathbf r_{ij} = \mathbf r_j - \mathbf r_i,

and its coefficients on the orthonormal basis of :class:`~.radial.GaussianTypeBasis` are

.. math:: \langle a n l m|\rho_i\rangle = \sum_{j \in a} f_c(r_{ij})\, R_{nl}(r_{ij})\, S_{lm}(\mathbf r_{ij}).

The centre's own Gaussian is not included (it is a constant). Lengths in Angstrom.
"""

from __future__ import annotations

import numpy as np
import torch

from .equivariants import EquivariantSet
from .radial import GaussianTypeBasis, smooth_cutoff
from .spherical_harmonics import solid_harmonics

__all__ = ["expand_on_basis", "density_coefficients", "density_set", "compressed_density_set"]


def expand_on_basis(vectors: torch.Tensor, radial: torch.Tensor, max_angular: int) -> torch.Tensor:
    """Per-neighbour coefficients ``radial[p, n, l] * S_lm(vectors[p])``.

    Parameters
    ----------
    vectors
        ``(n_pairs, 3)``, Angstrom.
    radial
        ``(n_pairs, n_radial, max_angular + 1)``.

    Returns
    -------
    torch.Tensor
        ``(n_pairs, n_radial, (max_angular + 1)**2)``.
    """
    harmonics = solid_harmonics(vectors, max_angular)  # (P, L^2)
    l_of_component = torch.as_tensor(
        np.repeat(np.arange(max_angular + 1), 2 * np.arange(max_angular + 1) + 1), device=vectors.device
    )
    return radial.index_select(2, l_of_component) * harmonics[:, None, :]


def density_coefficients(
    positions: torch.Tensor,
    species_index: torch.Tensor,
    first: torch.Tensor,
    second: torch.Tensor,
    n_species: int,
    basis: GaussianTypeBasis,
    cutoff: float,
    cutoff_width: float,
    gaussian_width: float,
) -> torch.Tensor:
    r"""Density coefficients :math:`\langle a n l m|\rho_i\rangle`.

    Parameters
    ----------
    positions
        ``(n_atoms, 3)``, Angstrom.
    species_index
        ``(n_atoms,)`` channel of each atom, ``int64``.
    first, second
        ``(n_pairs,)`` neighbour pairs (i, j) within ``cutoff``.

    Returns
    -------
    torch.Tensor
        ``(n_atoms, n_species, n_radial, (max_angular + 1)**2)``.
    """
    n_atoms = positions.shape[0]
    vectors = positions.index_select(0, second) - positions.index_select(0, first)
    distances = torch.linalg.norm(vectors, dim=1)
    radial = basis.density(distances, gaussian_width) * smooth_cutoff(distances, cutoff, cutoff_width)[:, None, None]
    per_pair = expand_on_basis(vectors, radial, basis.max_angular)
    target = first * n_species + species_index.index_select(0, second)
    shape = (n_atoms * n_species, basis.max_radial, (basis.max_angular + 1) ** 2)
    total = torch.zeros(shape, dtype=positions.dtype, device=positions.device).index_add(0, target, per_pair)
    return total.reshape(n_atoms, n_species, basis.max_radial, -1)


def density_set(
    coefficients: torch.Tensor, species: tuple[int, ...], max_radial: int | None = None
) -> EquivariantSet:
    """``(n_atoms, n_species, n_radial, L^2)`` coefficients as an :class:`EquivariantSet`.

    Blocks ``(l, +1)`` of shape ``(n_atoms, 2l+1, n_species * n_radial)``;
    property names ``("species", "radial")`` (species as atomic numbers).
    ``max_radial`` keeps only the lowest radial functions.
    """
    if max_radial is not None:
        coefficients = coefficients[:, :, :max_radial]
    n_atoms, n_species, n_radial, n_components = coefficients.shape
    max_angular = int(round(n_components**0.5)) - 1
    labels = np.array([(z, n) for z in species for n in range(n_radial)], dtype=np.int64)
    blocks, properties = {}, {}
    for l in range(max_angular + 1):
        block = coefficients[..., l * l : (l + 1) ** 2].reshape(n_atoms, n_species * n_radial, 2 * l + 1)
        blocks[(l, 1)] = block.transpose(1, 2)
        properties[(l, 1)] = labels
    return EquivariantSet(blocks, properties, ("species", "radial"))


def compressed_density_set(coefficients: torch.Tensor, max_radial: int, max_angular: int) -> EquivariantSet:
    """Species-summed density, lowest ``max_radial`` radial functions, ``l <= max_angular``.

    Blocks ``(l, +1)`` of shape ``(n_atoms, 2l+1, max_radial)``; property name ``("radial",)``.
    """
    summed = coefficients[:, :, :max_radial, : (max_angular + 1) ** 2].sum(dim=1)  # (N, n, L^2)
    labels = np.arange(max_radial, dtype=np.int64)[:, None]
    blocks, properties = {}, {}
    for l in range(max_angular + 1):
        blocks[(l, 1)] = summed[..., l * l : (l + 1) ** 2].transpose(1, 2)
        properties[(l, 1)] = labels
    return EquivariantSet(blocks, properties, ("radial",))
