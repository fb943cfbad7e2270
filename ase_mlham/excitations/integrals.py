r"""sTDA two-electron integrals: MNOK damped interactions between Löwdin transition charges.

In the Löwdin-orthogonal minimal basis the transition charge of the orbital pair
(p, q) on atom A is

.. math::

    q_A^{pq} = \sum_{\mu \in A} C'_{\mu p} C'_{\mu q},

and every two-electron integral of the TDA matrix becomes a double sum over atoms,
:math:`(pq|rs)' = \sum_{AB} q_A^{pq} \Gamma_{AB} q_B^{rs}`, with the damped
interactions of :mod:`ase_mlham.excitations.parameters`. All functions are
differentiable torch code in the dtype of their inputs.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import torch

from ase_mlham.basis import ao_slices
from ase_mlham.excitations.parameters import CHEMICAL_HARDNESS_HARTREE
from ase_mlham.units import BOHR_TO_ANGSTROM


def ao_slots(numbers: Sequence[int], device: torch.device | str | None = None) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Every atom's AOs as at most five slots, ``[(atoms, aos), ...]`` (long tensors of equal length).

    Slot ``s`` pairs each atom that has more than ``s`` AOs with its ``s``-th AO (AO order of
    :func:`ase_mlham.basis.ao_labels`), so a sum over an atom's AOs is a sum over slots, each a
    scatter without repeated atoms and without an ``(n_ao, ...)`` intermediate.
    """
    slices = ao_slices(numbers)
    slots = []
    for slot in range(max(block.stop - block.start for block in slices)):
        atoms = [atom for atom, block in enumerate(slices) if block.stop - block.start > slot]
        aos = [slices[atom].start + slot for atom in atoms]
        slots.append((torch.tensor(atoms, dtype=torch.long, device=device),
                      torch.tensor(aos, dtype=torch.long, device=device)))
    return slots


def transition_charges(slots: list[tuple[torch.Tensor, torch.Tensor]], n_atoms: int, left: torch.Tensor,
                       right: torch.Tensor) -> torch.Tensor:
    r"""Löwdin transition charges :math:`q_A^{p_k q_k}` of paired orbitals (column ``k`` of each).

    Parameters
    ----------
    slots
        From :func:`ao_slots`.
    n_atoms
        Number of atoms.
    left, right
        Löwdin-basis orbital coefficients, columns are orbitals, both ``(n_ao, n)``.

    Returns
    -------
    torch.Tensor
        ``(n_atoms, n)``, dimensionless: :math:`q_A^{pq} = \sum_{\mu \in A} C'_{\mu p} C'_{\mu q}`,
        whose sum over atoms is :math:`\delta_{pq}` for orthonormal orbitals.
    """
    charges = left.new_zeros(n_atoms, left.shape[1])
    for atoms, aos in slots:
        charges = charges.index_add(0, atoms, left[aos] * right[aos])
    return charges


def pair_charges(slots: list[tuple[torch.Tensor, torch.Tensor]], n_atoms: int, left: torch.Tensor,
                 right: torch.Tensor) -> torch.Tensor:
    r""":math:`q_A^{pq}` of every left orbital ``p`` with every right orbital ``q``: ``(n_atoms, n_p, n_q)``.

    ``left`` ``(n_ao, n_p)``, ``right`` ``(n_ao, n_q)``; no intermediate larger than the result.
    """
    charges = left.new_zeros(n_atoms, left.shape[1], right.shape[1])
    for atoms, aos in slots:
        charges = charges.index_add(0, atoms, left[aos][:, :, None] * right[aos][:, None, :])
    return charges


def orbital_populations(slots: list[tuple[torch.Tensor, torch.Tensor]], n_atoms: int,
                        coefficients: torch.Tensor) -> torch.Tensor:
    r""":math:`q_A^{pp}`: the Löwdin population of each orbital on each atom, ``(n_atoms, n_orbitals)``."""
    return transition_charges(slots, n_atoms, coefficients, coefficients)


def hardness(numbers: Sequence[int], like: torch.Tensor) -> torch.Tensor:
    """Chemical hardness per atom, Hartree, ``(n_atoms,)`` (ValueError for elements sTDA lacks here)."""
    missing = sorted({int(z) for z in numbers} - set(CHEMICAL_HARDNESS_HARTREE))
    if missing:
        raise ValueError(f"no sTDA chemical hardness for atomic number(s) {missing}; "
                         f"known: {sorted(CHEMICAL_HARDNESS_HARTREE)}")
    values = np.array([CHEMICAL_HARDNESS_HARTREE[int(z)] for z in numbers])
    return torch.as_tensor(values, dtype=like.dtype, device=like.device)


def mnok_gamma(numbers: Sequence[int], positions: torch.Tensor, exponent: float,
               hardness_scale: float = 1.0) -> torch.Tensor:
    r"""Mataga-Nishimoto-Ohno-Klopman interaction between atoms, Hartree.

    .. math::

        \Gamma_{AB} = \left(R_{AB}^{y} + (s\,\eta_{AB})^{-y}\right)^{-1/y},
        \qquad \eta_{AB} = (\eta_A + \eta_B) / 2,

    with exponent :math:`y` (:math:`\alpha` for :math:`\Gamma^K`, :math:`\beta`
    for :math:`\Gamma^J`) and hardness scale :math:`s` (1 for :math:`\Gamma^K`,
    :math:`a_x` for :math:`\Gamma^J`; :math:`s = 0` gives zero interactions).
    :math:`\Gamma_{AA} = s\,\eta_A`; at large distance :math:`\Gamma \to 1/R` (Hartree, Bohr).

    Parameters
    ----------
    numbers
        ``(n_atoms,)`` atomic numbers.
    positions
        ``(n_atoms, 3)`` Angstrom; the gradient is finite (the self-distance is masked).

    Returns
    -------
    torch.Tensor
        ``(n_atoms, n_atoms)``, symmetric, Hartree.
    """
    n_atoms = len(numbers)
    if hardness_scale == 0.0:
        return positions.new_zeros(n_atoms, n_atoms) + 0.0 * positions.sum()
    eta = hardness(numbers, positions)
    eta_pair = 0.5 * (eta[:, None] + eta[None, :])
    bohr = positions / BOHR_TO_ANGSTROM
    difference = bohr[:, None, :] - bohr[None, :, :]
    squared = (difference * difference).sum(-1)
    self_pair = torch.eye(n_atoms, dtype=torch.bool, device=positions.device)
    # where() with a safe value, so that d(R^y)/dR at R = 0 never enters the graph
    distance_power = torch.where(self_pair, torch.zeros_like(squared),
                                 torch.where(self_pair, torch.ones_like(squared), squared) ** (0.5 * exponent))
    return (distance_power + (hardness_scale * eta_pair) ** (-exponent)) ** (-1.0 / exponent)
