r"""Long-distance equivariant (LODE) features of molecules.

Every atom j carries source charges :math:`q_{ijc}` in a few channels c (as seen
from atom i: the range switch is part of them), each smeared into a normalised
Gaussian of width :math:`\sigma_L`; the Coulomb (1/r)
potential of channel c, seen from atom i, is expanded on the local basis of
:class:`~.radial.GaussianTypeBasis`:

.. math:: \langle c n l m|V_i\rangle = \sum_{j \ne i} q_{ijc}\, P_{nl}(r_{ij})\, S_{lm}(\mathbf r_{ij}),

with the analytic :math:`P_{nl}` of :meth:`GaussianTypeBasis.potential`. For
molecules the sum runs exactly over all atoms (a direct sum, O(N^2)); with a range
switch (``lode_cutoff``) only over the pairs within reach of it (:func:`pair_sources`,
:func:`lode_pair_coefficients`: O(N), the same numbers); far from j,
:math:`P_{nl}(r) S_{lm}(\mathbf r) \to c_{nl}\, Y_{lm}(\hat r)/r^{l+1}`, the
multipole far field. Two choices of sources (``DescriptorSettings.lode_sources``):

* ``"species"``: one channel per species, unit charge on each of its atoms
  (:func:`species_sources`). A molecule is a net source of every channel, so a
  neutral neighbour 8 A away changes the potential as much as a part of the
  molecule itself (a monopole, 1/r).
* ``"bond-charges"``: one channel per pair of species a < b (channel order),
  bond-charge increments (:func:`bond_charge_sources`). Each channel is neutral
  in every group of atoms bonded among themselves, so a neutral neighbour's
  potential starts at its bond dipoles (1/r^2), like a physical one.

With a range (``lode_cutoff``) the charges are switched off smoothly with the
distance from atom i: per atom for species, per bond (both ends alike) for bond
charges, so that these stay neutral.

The potential is combined with the local (compressed, plus a constant nu = 0
channel) density into :math:`|\tilde\rho_i^{[0,1]} \otimes V_i; \sigma; \lambda\mu\rangle`,
which includes :math:`V_i`'s own lambda components. Self-interaction (j = i) is
left out. Units: 1/Angstrom per unit source charge.
"""

from __future__ import annotations

import numpy as np
import torch

from .equivariants import EquivariantSet, tensor_product
from .radial import GaussianTypeBasis, smooth_cutoff
from .spherical_harmonics import solid_harmonics

__all__ = [
    "bond_charge_sources", "lode_coefficients", "lode_feature_set", "lode_pair_coefficients", "lode_reach",
    "lode_set", "pair_sources", "source_labels", "species_sources",
]


def _pair_vectors(positions: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``r_j - r_i`` ``(N, N, 3)``, distances ``(N, N)`` and the off-diagonal mask ``(N, N)``.

    The diagonal gets a constant unit vector (finite values, no gradient); callers
    give it weight zero through the mask.
    """
    n_atoms = positions.shape[0]
    diagonal = torch.eye(n_atoms, dtype=torch.bool, device=positions.device)
    offset = torch.zeros(n_atoms, n_atoms, 3, dtype=positions.dtype, device=positions.device)
    offset[..., 0] = diagonal.to(positions.dtype)
    vectors = positions[None, :, :] - positions[:, None, :] + offset
    return vectors, torch.linalg.norm(vectors, dim=-1), ~diagonal


def _switch(distances: torch.Tensor, lode_cutoff: float | None, cutoff_width: float) -> torch.Tensor:
    """The range switch of the potential: 1 everywhere without ``lode_cutoff``."""
    if lode_cutoff is None:
        return torch.ones_like(distances)
    return smooth_cutoff(distances, lode_cutoff, cutoff_width)


def species_sources(positions: torch.Tensor, species_index: torch.Tensor, n_species: int,
                    lode_cutoff: float | None = None, cutoff_width: float = 0.5) -> torch.Tensor:
    """Unit charge in the channel of each atom's species, as seen from each atom.

    Returns ``(n_atoms, n_atoms, n_species)``: entry ``[i, j, c]`` is atom j's charge in
    channel c times the range switch of ``r_ij`` (:func:`~.radial.smooth_cutoff` at
    ``lode_cutoff``; 1 without one).
    """
    _, distances, _ = _pair_vectors(positions)
    onehot = torch.nn.functional.one_hot(species_index, n_species).to(positions.dtype)
    return _switch(distances, lode_cutoff, cutoff_width)[:, :, None] * onehot[None, :, :]


def _bond_increments(lengths: torch.Tensor, first_species: torch.Tensor, second_species: torch.Tensor,
                     n_species: int, bond_cutoff: float, cutoff_width: float) -> torch.Tensor:
    """Bond-charge increments of bonds j-k, ``(n_bonds, n_channels)``: the charge of end j in each channel
    (end k gets minus it), from the bond lengths (Angstrom) and the species channels of the two ends."""
    channel_first, channel_second = (torch.as_tensor(index, device=lengths.device)
                                     for index in np.triu_indices(n_species, k=1))
    sign = ((first_species[:, None] == channel_first) & (second_species[:, None] == channel_second)).to(
        lengths.dtype) - ((first_species[:, None] == channel_second) & (second_species[:, None] == channel_first)).to(
        lengths.dtype)
    return smooth_cutoff(lengths, bond_cutoff, cutoff_width)[:, None] * sign


def bond_charge_sources(positions: torch.Tensor, species_index: torch.Tensor, n_species: int,
                        bond_cutoff: float, lode_cutoff: float | None = None,
                        cutoff_width: float = 0.5) -> torch.Tensor:
    r"""Bond-charge increments, one channel per pair of species a < b, as seen from each atom.

    Every bond j-k between species a and b (switched by :math:`f(r_{jk})`, the cosine
    :func:`~.radial.smooth_cutoff` at ``bond_cutoff``) puts :math:`+f` on its a atom
    and :math:`-f` on its b atom, in channel ab. The range switch acts on whole bonds,
    at the distance from atom i to the bond's midpoint :math:`m_{jk}`:

    .. math:: q_{i,j,ab} = \sum_{k} f(r_{jk})\, s(|\mathbf m_{jk} - \mathbf r_i|)
              \,[\delta_{z_j a}\delta_{z_k b} - \delta_{z_j b}\delta_{z_k a}]

    so that both ends of a bond always carry opposite charges: every channel sums to
    zero over any group of atoms with no bond to the rest, for every i, exactly, also
    while the group crosses the range switch. (A per-atom switch would leave a
    crossing molecule partly charged.) Ordered by channels as :func:`source_labels`.

    Parameters
    ----------
    positions
        ``(n_atoms, 3)``, Angstrom.
    species_index
        ``(n_atoms,)`` species channel of each atom.
    bond_cutoff, lode_cutoff, cutoff_width
        Angstrom; ``lode_cutoff=None``: no range switch.

    Returns
    -------
    torch.Tensor
        ``(n_atoms, n_atoms, n_species (n_species - 1) / 2)``, unit charges.
    """
    n_atoms = positions.shape[0]
    # bonds j < k between different species, selected on the detached distances; values and
    # switches keep the graph
    _, distances, off_diagonal = _pair_vectors(positions)
    hetero = species_index[:, None] != species_index[None, :]
    upper = torch.triu(off_diagonal) & hetero & (distances.detach() < bond_cutoff)
    j, k = torch.nonzero(upper, as_tuple=True)
    increments = _bond_increments(distances[j, k], species_index[j], species_index[k], n_species, bond_cutoff,
                                  cutoff_width)
    midpoints = 0.5 * (positions[j] + positions[k])
    # clamped: an atom exactly on a midpoint gets a zero gradient there, not NaN
    to_midpoints = ((midpoints[None, :, :] - positions[:, None, :]) ** 2).sum(dim=-1).clamp_min(1e-30).sqrt()
    seen = _switch(to_midpoints, lode_cutoff, cutoff_width)  # (n_atoms, n_bonds)
    per_bond = seen[:, :, None] * increments[None, :, :]  # (n_atoms, n_bonds, n_channels)
    charges = positions.new_zeros(n_atoms, n_atoms, increments.shape[1])
    charges = charges.index_add(1, j, per_bond).index_add(1, k, -per_bond)
    return charges


def source_labels(species: tuple[int, ...], sources: str) -> list[int]:
    """Property label of each source channel: the atomic number (``"species"``) or
    ``100 * z_a + z_b`` for the bond-charge channel of species a < b (``"bond-charges"``)."""
    if sources == "species":
        return list(species)
    first, second = np.triu_indices(len(species), k=1)
    return [100 * species[a] + species[b] for a, b in zip(first, second)]


def lode_coefficients(
    positions: torch.Tensor,
    sources: torch.Tensor,
    basis: GaussianTypeBasis,
    gaussian_width: float,
) -> torch.Tensor:
    r"""Potential coefficients :math:`\langle c n l m|V_i\rangle`, direct sum over all atoms.

    Parameters
    ----------
    positions
        ``(n_atoms, 3)``, Angstrom.
    sources
        ``(n_atoms, n_atoms, n_channels)``: the charge of atom j in channel c as seen
        from atom i, range switch included (:func:`species_sources`,
        :func:`bond_charge_sources`). The diagonal (self-interaction) is left out.

    Returns
    -------
    torch.Tensor
        ``(n_atoms, n_channels, n_radial, (max_angular + 1)**2)``, 1/Angstrom per unit charge.
    """
    n_atoms = positions.shape[0]
    n_radial, max_angular = basis.max_radial, basis.max_angular
    vectors, distances, off_diagonal = _pair_vectors(positions)
    radial = basis.potential(distances.reshape(-1), gaussian_width).reshape(n_atoms, n_atoms, n_radial, -1)
    harmonics = solid_harmonics(vectors, max_angular)  # (N, N, L^2)
    sources = sources * off_diagonal.to(positions.dtype)[:, :, None]
    blocks = []
    for l in range(max_angular + 1):
        blocks.append(torch.einsum("ijn,ijc,ijm->icnm", radial[..., l], sources, harmonics[..., l * l : (l + 1) ** 2]))
    return torch.cat(blocks, dim=3)


def lode_reach(sources: str, lode_cutoff: float, bond_cutoff: float) -> float:
    """Largest ``r_ij`` at which atom j can carry a charge seen from atom i with a range switch, Angstrom.

    Species charges are switched at ``r_ij`` itself; a bond charge at the distance from i to the bond's
    midpoint, which lies within ``bond_cutoff / 2`` of j.
    """
    return lode_cutoff if sources == "species" else lode_cutoff + 0.5 * bond_cutoff


def pair_sources(positions: torch.Tensor, species_index: torch.Tensor, n_species: int, first: torch.Tensor,
                 second: torch.Tensor, sources: str, lode_cutoff: float, cutoff_width: float,
                 bond_cutoff: float) -> torch.Tensor:
    r"""The source charges :math:`q_{ijc}` of :func:`species_sources` or :func:`bond_charge_sources` on a
    pair list: ``(n_pairs, n_channels)`` for the ordered pairs ``(first, second)`` (i, j), which must hold
    every pair within :func:`lode_reach` (``i != j``). Equal to the dense functions' entries, in O(n_pairs)
    instead of O(N^2) (a range switch is needed: without one every pair counts).
    """
    vectors = positions[second] - positions[first]
    distances = torch.linalg.norm(vectors, dim=-1)
    if sources == "species":
        onehot = torch.nn.functional.one_hot(species_index[second], n_species).to(positions.dtype)
        return smooth_cutoff(distances, lode_cutoff, cutoff_width)[:, None] * onehot
    # bonds j < k between different species (every one is on the pair list: it reaches beyond bond_cutoff)
    is_bond = ((first < second) & (species_index[first] != species_index[second])
               & (distances.detach() < bond_cutoff))
    j, k = first[is_bond], second[is_bond]
    increments = _bond_increments(distances[is_bond], species_index[j], species_index[k], n_species, bond_cutoff,
                                  cutoff_width)
    midpoints = 0.5 * (positions[j] + positions[k])
    # every (pair (i, a), bond end on atom a): the bond's increment, switched at |m - r_i|
    n_bonds = len(j)
    end_atom = torch.cat([j, k])
    end_bond = torch.arange(n_bonds, device=positions.device).repeat(2)
    end_sign = torch.cat([positions.new_ones(n_bonds), -positions.new_ones(n_bonds)])
    order = torch.argsort(end_atom, stable=True)
    counts = torch.bincount(end_atom, minlength=positions.shape[0])
    starts = torch.cumsum(counts, 0) - counts
    per_pair = counts[second]
    pair_index = torch.repeat_interleave(torch.arange(len(first), device=positions.device), per_pair)
    within = torch.arange(len(pair_index), device=positions.device) - torch.repeat_interleave(
        torch.cumsum(per_pair, 0) - per_pair, per_pair)
    end = order[starts[second][pair_index] + within]
    bond_of_end = end_bond[end]
    # clamped: an atom exactly on a midpoint gets a zero gradient there, not NaN
    to_midpoint = ((midpoints[bond_of_end] - positions[first[pair_index]]) ** 2).sum(-1).clamp_min(1e-30).sqrt()
    seen = smooth_cutoff(to_midpoint, lode_cutoff, cutoff_width) * end_sign[end]
    charges = positions.new_zeros(len(first), increments.shape[1])
    return charges.index_add(0, pair_index, seen[:, None] * increments[bond_of_end])


def lode_pair_coefficients(positions: torch.Tensor, first: torch.Tensor, second: torch.Tensor,
                           charges: torch.Tensor, basis: GaussianTypeBasis, gaussian_width: float) -> torch.Tensor:
    r""":func:`lode_coefficients` as a sum over a pair list: ``charges`` ``(n_pairs, n_channels)`` of the
    ordered pairs ``(first, second)`` (:func:`pair_sources`; pairs left out carry no charge).

    Returns ``(n_atoms, n_channels, n_radial, (max_angular + 1)**2)``, 1/Angstrom per unit charge.
    """
    n_atoms = positions.shape[0]
    vectors = positions[second] - positions[first]
    radial = basis.potential(torch.linalg.norm(vectors, dim=-1), gaussian_width)  # (P, n_radial, L)
    harmonics = solid_harmonics(vectors, basis.max_angular)  # (P, L^2)
    blocks = [torch.einsum("pn,pc,pm->pcnm", radial[..., l], charges, harmonics[:, l * l:(l + 1) ** 2])
              for l in range(basis.max_angular + 1)]
    per_pair = torch.cat(blocks, dim=3)
    return per_pair.new_zeros(n_atoms, *per_pair.shape[1:]).index_add(0, first, per_pair)


def lode_set(coefficients: torch.Tensor, labels: list[int]) -> EquivariantSet:
    """Potential coefficients as a set: blocks ``(l, +1)``, properties ``("lode_source", "lode_radial")``;
    ``labels`` names each channel (:func:`source_labels`)."""
    n_atoms, n_channels, n_radial, n_components = coefficients.shape
    max_angular = int(round(n_components**0.5)) - 1
    properties = np.array([(c, n) for c in labels for n in range(n_radial)], dtype=np.int64)
    blocks = {
        (l, 1): coefficients[..., l * l : (l + 1) ** 2].reshape(n_atoms, n_channels * n_radial, 2 * l + 1)
        .transpose(1, 2)
        for l in range(max_angular + 1)
    }
    return EquivariantSet(blocks, {key: properties for key in blocks}, ("lode_source", "lode_radial"))


def lode_feature_set(
    compressed: EquivariantSet, potential: EquivariantSet, max_lambda: int, with_properties: bool = True
) -> EquivariantSet:
    r""":math:`|\tilde\rho_i^{[0,1]} \otimes V_i; \sigma; \lambda\mu\rangle` for lambda <= ``max_lambda``."""
    return tensor_product(
        compressed.with_constant(), potential, max_lambda, labels=("rho", "V"), concatenate=False,
        with_properties=with_properties,
    )
