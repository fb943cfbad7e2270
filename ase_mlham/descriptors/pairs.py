r"""Two-centre (pair) features for the off-site blocks.

For an ordered pair (i, j) with :math:`r_{ij} <` ``pair_cutoff`` (vector
:math:`\mathbf r_{ij} = \mathbf r_j - \mathbf r_i`, from i to j) the pair density
:math:`g_{ij}` is a normalised Gaussian of width sigma at :math:`\mathbf r_{ij}`,
scaled by the smooth pair cutoff :math:`f_c(r_{ij})` and expanded on a basis
spanning the pair cutoff: :math:`\langle n l m|g_{ij}\rangle = f_c(r_{ij}) R_{nl}(r_{ij}) S_{lm}(\mathbf r_{ij})`.
Two families of features, both linear in :math:`g_{ij}` and therefore vanishing
smoothly (with their gradients) as the pair leaves the pair cutoff:

* ``"pair"``: :math:`|\rho_i^{[0,1]} \otimes g_{ij}; \sigma; \lambda\mu\rangle`, the
  nu = 1 two-centre features (the species-resolved density of i, lowest
  ``compressed_max_radial`` radial functions, plus a constant nu = 0 channel,
  which gives :math:`|g_{ij}; \lambda\mu\rangle` itself);
* ``"decorated"``: :math:`|(\tilde\rho_i \otimes g_{ij}) \otimes \tilde\rho_j; \sigma; \lambda\mu\rangle`,
  the message-passing form decorated with the neighbour's (species-summed,
  compressed) density: triplets (i, j, k) with k around i and k' around j.

For the Hamiltonian :math:`H_{ij} \pm H_{ji}^T` of same-species pairs,
:func:`symmetrise_pairs` returns :math:`(F_{ij} \pm F_{ji})/\sqrt 2` for i < j.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from .equivariants import EquivariantSet, SeparableSet, tensor_product
from .radial import GaussianTypeBasis, smooth_cutoff
from .spherical_harmonics import solid_harmonics

__all__ = ["pair_density_set", "pair_feature_sets", "symmetrise_pairs"]


def pair_density_set(
    positions: torch.Tensor,
    first: torch.Tensor,
    second: torch.Tensor,
    basis: GaussianTypeBasis,
    pair_cutoff: float,
    cutoff_width: float,
    gaussian_width: float,
) -> SeparableSet:
    """Coefficients of :math:`g_{ij}` in separable form: ``S_lm(r_ij)`` times ``f_c R_nl(r_ij)``.

    ``SeparableSet.blocks[(l, +1)]`` has shape ``(n_pairs, 2l+1, n_pair_radial)``.
    """
    vectors = positions.index_select(0, second) - positions.index_select(0, first)
    distances = torch.linalg.norm(vectors, dim=1)
    radial = basis.density(distances, gaussian_width) * smooth_cutoff(distances, pair_cutoff, cutoff_width)[:, None, None]
    harmonics = solid_harmonics(vectors, basis.max_angular)  # (P, L^2)
    labels = np.arange(basis.max_radial, dtype=np.int64)[:, None]
    keys = [(l, 1) for l in range(basis.max_angular + 1)]
    return SeparableSet(
        {(l, 1): harmonics[:, l * l : (l + 1) ** 2] for l, _ in keys},
        {(l, 1): radial[:, :, l] for l, _ in keys},
        {key: labels for key in keys},
        ("pair_radial",),
    )


def pair_feature_sets(
    density: EquivariantSet,
    compressed: EquivariantSet,
    pair_density: SeparableSet,
    first: torch.Tensor,
    second: torch.Tensor,
    max_lambda: int,
    max_intermediate: int,
    with_properties: bool = True,
) -> dict[str, EquivariantSet]:
    """The ``"pair"`` and ``"decorated"`` families over the samples ``(first, second)``.

    Parameters
    ----------
    density
        Species-resolved (radially truncated) atom density set (samples: atoms).
    compressed
        Species-summed density set of the decoration (samples: atoms).
    pair_density
        :func:`pair_density_set` (samples: pairs).
    max_intermediate
        Largest degree of the intermediate :math:`\\tilde\\rho_i \\otimes g_{ij}`.
    with_properties
        Build the property labels (see :func:`~.equivariants.tensor_product`).
    """
    rho_i = density.with_constant().renamed("_i")
    pair = tensor_product(
        rho_i, pair_density, max_lambda, labels=("i", "ij"), left_index=first, concatenate=False,
        with_properties=with_properties,
    )
    inner = tensor_product(
        compressed.renamed("_i"), pair_density, max_intermediate, labels=("i", "ij"), left_index=first,
        with_properties=with_properties,
    )
    decorated = tensor_product(
        inner, compressed.renamed("_j"), max_lambda, labels=("iij", "j"), right_index=second, concatenate=False,
        with_properties=with_properties,
    )
    return {"pair": pair, "decorated": decorated}


def symmetrise_pairs(
    values: torch.Tensor, first: np.ndarray, second: np.ndarray, numbers: np.ndarray
) -> tuple[torch.Tensor, torch.Tensor, np.ndarray]:
    r"""Symmetric and antisymmetric combinations of same-species pairs.

    Parameters
    ----------
    values
        ``(n_pairs, 2lambda+1, n_properties)`` over the ordered pairs ``(first, second)``,
        a list containing both (i, j) and (j, i).
    numbers
        ``(n_atoms,)`` atomic numbers.

    Returns
    -------
    symmetric, antisymmetric
        ``(F_ij + F_ji) / sqrt 2`` and ``(F_ij - F_ji) / sqrt 2``, shape ``(n_same, 2lambda+1, n_properties)``.
    samples
        ``(n_same, 2)`` int64: the pairs (i, j) with i < j and equal atomic numbers.
    """
    n_atoms = len(numbers)
    keys = first * n_atoms + second
    keep = np.flatnonzero((first < second) & (numbers[first] == numbers[second]))
    reverse = np.searchsorted(keys, second[keep] * n_atoms + first[keep])
    # one gather (cheaper to differentiate than two)
    both = values.index_select(0, torch.as_tensor(np.concatenate([keep, reverse]), device=values.device))
    forward, backward = both[: len(keep)], both[len(keep) :]
    scale = 1.0 / math.sqrt(2.0)
    samples = np.stack([first[keep], second[keep]], axis=1).astype(np.int64)
    return (forward + backward) * scale, (forward - backward) * scale, samples
