r"""Long-distance equivariant (LODE) features of molecules.

Every atom j of species a is smeared into a normalised Gaussian of width
:math:`\sigma_L`; its Coulomb (1/r) potential, seen from atom i, is expanded on
the local basis of :class:`~.radial.GaussianTypeBasis`:

.. math:: \langle a n l m|V_i\rangle = \sum_{j \in a,\, j \ne i} P_{nl}(r_{ij})\, S_{lm}(\mathbf r_{ij}),

with the analytic :math:`P_{nl}` of :meth:`GaussianTypeBasis.potential`. For
molecules the sum runs exactly over all atoms (a direct sum, O(N^2), no
cutoff); far from j, :math:`P_{nl}(r) S_{lm}(\mathbf r) \to c_{nl}\, Y_{lm}(\hat r)/r^{l+1}`,
the multipole far field. The potential is combined with the local (compressed,
plus a constant nu = 0 channel) density into :math:`|\tilde\rho_i^{[0,1]} \otimes V_i; \sigma; \lambda\mu\rangle`,
which includes :math:`V_i`'s own lambda components. Self-interaction (j = i) is left out.
Units: 1/Angstrom per unit charge.
"""

from __future__ import annotations

import numpy as np
import torch

from .equivariants import EquivariantSet, tensor_product
from .radial import GaussianTypeBasis, smooth_cutoff
from .spherical_harmonics import solid_harmonics

__all__ = ["lode_coefficients", "lode_set", "lode_feature_set"]


def lode_coefficients(
    positions: torch.Tensor,
    species_index: torch.Tensor,
    n_species: int,
    basis: GaussianTypeBasis,
    gaussian_width: float,
    lode_cutoff: float | None = None,
    cutoff_width: float = 0.5,
) -> torch.Tensor:
    r"""Potential coefficients :math:`\langle a n l m|V_i\rangle`, direct sum over all atoms.

    Dense ``(n_atoms, n_atoms)`` layout with the columns ordered by species, so
    that the sum over the atoms of one species is a batched matrix product per l.

    Parameters
    ----------
    positions
        ``(n_atoms, 3)``, Angstrom.
    species_index
        ``(n_atoms,)`` channel of each atom.
    lode_cutoff, cutoff_width
        With a ``lode_cutoff`` (Angstrom), each source atom's contribution is
        multiplied by the cosine switch :func:`~.radial.smooth_cutoff`; ``None``: all atoms.

    Returns
    -------
    torch.Tensor
        ``(n_atoms, n_species, n_radial, (max_angular + 1)**2)``, 1/Angstrom.
    """
    n_atoms = positions.shape[0]
    dtype, device = positions.dtype, positions.device
    n_radial, max_angular = basis.max_radial, basis.max_angular
    order = torch.argsort(species_index, stable=True)
    counts = torch.bincount(species_index, minlength=n_species).tolist()
    rows = torch.arange(n_atoms, device=device)
    self_term = order[None, :] == rows[:, None]  # (N, N): column of atom i in row i
    # the self term gets a constant unit vector (no gradient, finite values), then weight zero
    offset = torch.zeros(n_atoms, n_atoms, 3, dtype=dtype, device=device)
    offset[..., 0] = self_term.to(dtype)
    vectors = positions.index_select(0, order)[None, :, :] - positions[:, None, :] + offset  # (N, N, 3)
    distances = torch.linalg.norm(vectors, dim=-1)
    radial = basis.potential(distances.reshape(-1), gaussian_width).reshape(n_atoms, n_atoms, n_radial, -1)
    weight = (~self_term).to(dtype)
    if lode_cutoff is not None:
        weight = weight * smooth_cutoff(distances, lode_cutoff, cutoff_width)
    radial = radial * weight[:, :, None, None]
    harmonics = solid_harmonics(vectors, max_angular)  # (N, N, L^2)
    per_species = []
    start = 0
    for count in counts:
        columns = slice(start, start + count)
        start += count
        blocks = []
        for l in range(max_angular + 1):
            # (N, n, count) @ (N, count, 2l+1) -> (N, n, 2l+1)
            blocks.append(
                torch.bmm(radial[:, columns, :, l].transpose(1, 2), harmonics[:, columns, l * l : (l + 1) ** 2])
            )
        per_species.append(torch.cat(blocks, dim=2))
    return torch.stack(per_species, dim=1)


def lode_set(coefficients: torch.Tensor, species: tuple[int, ...]) -> EquivariantSet:
    """Potential coefficients as a set: blocks ``(l, +1)``, properties ``("lode_species", "lode_radial")``."""
    n_atoms, n_species, n_radial, n_components = coefficients.shape
    max_angular = int(round(n_components**0.5)) - 1
    labels = np.array([(z, n) for z in species for n in range(n_radial)], dtype=np.int64)
    blocks = {
        (l, 1): coefficients[..., l * l : (l + 1) ** 2].reshape(n_atoms, n_species * n_radial, 2 * l + 1).transpose(1, 2)
        for l in range(max_angular + 1)
    }
    return EquivariantSet(blocks, {key: labels for key in blocks}, ("lode_species", "lode_radial"))


def lode_feature_set(
    compressed: EquivariantSet, potential: EquivariantSet, max_lambda: int, with_properties: bool = True
) -> EquivariantSet:
    r""":math:`|\tilde\rho_i^{[0,1]} \otimes V_i; \sigma; \lambda\mu\rangle` for lambda <= ``max_lambda``."""
    return tensor_product(
        compressed.with_constant(), potential, max_lambda, labels=("rho", "V"), concatenate=False,
        with_properties=with_properties,
    )
