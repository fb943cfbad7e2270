r"""The sTDA matrix of singlet excitations over a space of single excitations (CSFs) i -> a.

.. math::

    A'_{ia,jb} = \delta_{ij}\delta_{ab}(\varepsilon_a - \varepsilon_i) + 2\,(ia|jb)' - (ij|ab)',

    (ia|jb)' = \sum_{AB} q_A^{ia}\,\Gamma^K_{AB}\,q_B^{jb}, \qquad
    (ij|ab)' = \sum_{AB} q_A^{ij}\,\Gamma^J_{AB}\,q_B^{ab}.

:class:`CSFSpace` holds, for a set of occupied and virtual orbitals, the
transition charges and the charge-potential products the matrix elements
need, and hands out its diagonal (cheap: built at construction) and any block
(the Coulomb-type intermediates are built on the first request). Blocks are
built a few hundred rows at a time so that memory stays
``O(rows * n_occupied * n_virtual)`` whatever the number of CSFs. Energies in eV throughout.
"""

from __future__ import annotations

import torch

from ase_mlham.excitations.integrals import orbital_populations, transition_charges
from ase_mlham.units import HARTREE_TO_EV

#: Rows of A built per batched product: bounds the (rows, n_occ, n_virt) intermediate.
ROW_BLOCK = 256


class CSFSpace:
    r"""Single excitations from ``n_occ`` occupied to ``n_virt`` virtual orbitals.

    CSF ``k`` is the excitation ``i -> a`` with ``k = i * n_virt + a`` (indices
    within the given orbitals).

    Parameters
    ----------
    occupied_energies, virtual_energies
        ``(n_occ,)`` and ``(n_virt,)`` orbital energies, eV.
    occupied, virtual
        Löwdin-basis coefficients, ``(n_ao, n_occ)`` and ``(n_ao, n_virt)``.
    projector
        ``(n_atoms, n_ao)`` AO-to-atom map (:func:`~ase_mlham.excitations.integrals.atom_projector`).
    gamma_exchange, gamma_coulomb
        :math:`\Gamma^K` and :math:`\Gamma^J`, ``(n_atoms, n_atoms)``, Hartree.
    """

    def __init__(self, occupied_energies: torch.Tensor, virtual_energies: torch.Tensor, occupied: torch.Tensor,
                 virtual: torch.Tensor, projector: torch.Tensor, gamma_exchange: torch.Tensor,
                 gamma_coulomb: torch.Tensor) -> None:
        self.n_occ, self.n_virt = occupied.shape[1], virtual.shape[1]
        self._occupied, self._virtual, self._projector = occupied, virtual, projector
        gamma_exchange = gamma_exchange * HARTREE_TO_EV
        gamma_coulomb = gamma_coulomb * HARTREE_TO_EV
        self._gamma_coulomb = gamma_coulomb
        # (n_atoms, n_occ * n_virt): q_A^{ia}, and Gamma^K q^{ia} (the potential of each transition density)
        self.charges_ia = transition_charges(projector, occupied, virtual).reshape(projector.shape[0], -1)
        self.potentials_ia = gamma_exchange @ self.charges_ia
        self._charges_ij: torch.Tensor | None = None  # built by the first block() call
        self._potentials_ab: torch.Tensor | None = None
        self.orbital_differences = (virtual_energies[None, :] - occupied_energies[:, None]).reshape(-1)
        # diagonal: (ii|aa)' from orbital populations only, no (n_occ, n_occ) gather needed
        population_occ = orbital_populations(projector, occupied)
        population_virt = orbital_populations(projector, virtual)
        coulomb_diagonal = population_occ.mT @ gamma_coulomb @ population_virt  # (n_occ, n_virt)
        exchange_diagonal = (self.charges_ia * self.potentials_ia).sum(0)
        self._diagonal = self.orbital_differences + 2.0 * exchange_diagonal - coulomb_diagonal.reshape(-1)

    @property
    def size(self) -> int:
        """Number of CSFs, ``n_occ * n_virt``."""
        return self.n_occ * self.n_virt

    def diagonal(self) -> torch.Tensor:
        r""":math:`A'_{ia,ia}`, eV, ``(n_occ * n_virt,)``."""
        return self._diagonal

    def block(self, rows: torch.Tensor, columns: torch.Tensor) -> torch.Tensor:
        r"""The block :math:`A'_{kl}` for CSFs ``k`` in ``rows`` and ``l`` in ``columns`` (long index tensors), eV.

        Returns ``(len(rows), len(columns))``; built ``ROW_BLOCK`` rows at a time.
        """
        if len(rows) == 0 or len(columns) == 0:
            return self._diagonal.new_zeros(len(rows), len(columns))
        # Coulomb-type terms only need the occupied and virtual orbitals the columns use
        column_occupied, occupied_position = torch.unique(torch.div(columns, self.n_virt, rounding_mode="floor"),
                                                          return_inverse=True)
        column_virtual, virtual_position = torch.unique(columns % self.n_virt, return_inverse=True)
        column_pairs = occupied_position * len(column_virtual) + virtual_position
        charges_ij, potentials_ab = self._coulomb_intermediates()
        charges_ij, potentials_ab = charges_ij[:, :, column_occupied], potentials_ab[:, :, column_virtual]
        charges_columns = self.charges_ia[:, columns]
        blocks = []
        for start in range(0, len(rows), ROW_BLOCK):
            chunk = rows[start:start + ROW_BLOCK]
            occupied_index = torch.div(chunk, self.n_virt, rounding_mode="floor")
            virtual_index = chunk % self.n_virt
            exchange = self.potentials_ia[:, chunk].mT @ charges_columns  # (ia|jb)'
            # (ij|ab)' = sum_A q_A^{ij} [Gamma^J q^{ab}]_A for the row's i and a, the columns' j and b
            left = charges_ij[:, occupied_index, :].permute(1, 2, 0)  # (chunk, n_j, n_atoms)
            right = potentials_ab[:, virtual_index, :].permute(1, 0, 2)  # (chunk, n_atoms, n_b)
            coulomb = torch.bmm(left, right).reshape(len(chunk), -1)[:, column_pairs]
            same = (chunk[:, None] == columns[None, :]).to(exchange.dtype)
            blocks.append(2.0 * exchange - coulomb + same * self.orbital_differences[chunk][:, None])
        return torch.cat(blocks)

    def _coulomb_intermediates(self) -> tuple[torch.Tensor, torch.Tensor]:
        """q_A^{ij} ``(n_atoms, n_occ, n_occ)`` and [Gamma^J q^{ab}]_A ``(n_atoms, n_virt, n_virt)``, eV."""
        if self._charges_ij is None:
            self._charges_ij = transition_charges(self._projector, self._occupied, self._occupied)
            self._potentials_ab = torch.einsum("AB,Bab->Aab", self._gamma_coulomb,
                                               transition_charges(self._projector, self._virtual, self._virtual))
        return self._charges_ij, self._potentials_ab
