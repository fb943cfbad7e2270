r"""The sTDA matrix of singlet excitations over a space of single excitations (CSFs) i -> a.

.. math::

    A'_{ia,jb} = \delta_{ij}\delta_{ab}(\varepsilon_a - \varepsilon_i) + 2\,(ia|jb)' - (ij|ab)',

    (ia|jb)' = \sum_{AB} q_A^{ia}\,\Gamma^K_{AB}\,q_B^{jb}, \qquad
    (ij|ab)' = \sum_{AB} q_A^{ij}\,\Gamma^J_{AB}\,q_B^{ab}.

:class:`CSFSpace` builds what a request needs and nothing of the size of the
whole space: the space of a 1000-atom molecule holds ~10^6 CSFs, and its
transition charges alone, ``(n_atoms, n_csf)``, would take 10 GB. It hands out

- a cheap lower bound of every diagonal element (orbital-energy difference minus
  the Coulomb term, both from orbital populations), by which the selection
  (:mod:`~ase_mlham.excitations.selection`) finds the lowest CSFs while computing
  exact diagonal elements only for those that can be among them;
- exact diagonal elements of any CSFs (for the selection: detached, cached);
- any block :math:`A'_{kl}`, differentiable.

Intermediates are built a batch of CSFs at a time, each at most
:data:`BATCH_ELEMENTS` numbers, so memory is ``O(n_atoms * batch + n_csf)``
besides the requested block. Energies in eV throughout.
"""

from __future__ import annotations

from typing import Callable, Iterator

import torch

from ase_mlham.excitations.integrals import orbital_populations, pair_charges, transition_charges
from ase_mlham.units import HARTREE_TO_EV

#: Largest intermediate one batch of CSFs may create, in numbers (2**24: 128 MiB in float64).
BATCH_ELEMENTS = 2**24

#: Exact diagonal elements computed in the first round of :meth:`CSFSpace.lowest` (doubling after).
FIRST_ROUND = 256


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
    slots
        Each atom's AOs, from :func:`~ase_mlham.excitations.integrals.ao_slots`.
    gamma_exchange, gamma_coulomb
        :math:`\Gamma^K` and :math:`\Gamma^J`, ``(n_atoms, n_atoms)``, Hartree.
    """

    def __init__(self, occupied_energies: torch.Tensor, virtual_energies: torch.Tensor, occupied: torch.Tensor,
                 virtual: torch.Tensor, slots: list[tuple[torch.Tensor, torch.Tensor]], gamma_exchange: torch.Tensor,
                 gamma_coulomb: torch.Tensor) -> None:
        self.n_occ, self.n_virt = occupied.shape[1], virtual.shape[1]
        self.n_atoms = gamma_exchange.shape[0]
        self._occupied, self._virtual, self._slots = occupied, virtual, slots
        self.n_ao = occupied.shape[0]
        self._gamma_exchange = gamma_exchange * HARTREE_TO_EV
        self._gamma_coulomb = gamma_coulomb * HARTREE_TO_EV
        self.orbital_differences = (virtual_energies[None, :] - occupied_energies[:, None]).reshape(-1)
        with torch.no_grad():
            # (ii|aa)' from orbital populations only: (n_occ, n_virt), cheap
            population_occ = orbital_populations(slots, self.n_atoms, occupied)
            population_virt = orbital_populations(slots, self.n_atoms, virtual)
            coulomb = (population_occ.mT @ self._gamma_coulomb @ population_virt).reshape(-1)
            # (ia|ia)' >= lambda_min(Gamma^K) |q^{ia}|^2 and |q^{ia}|^2 <= sum_A p_A^i p_A^a (Cauchy-Schwarz on
            # each atom); MNOK's Gamma^K is positive definite in practice, the term guards the bound if not
            # (a Cholesky factorisation proves positive definiteness cheaply; the eigensolve only when it fails)
            self._lower_bound = self.orbital_differences.detach() - coulomb
            if int(torch.linalg.cholesky_ex(self._gamma_exchange.detach()).info) != 0:
                smallest = float(torch.linalg.eigvalsh(self._gamma_exchange.detach())[0])
                charge_bound = (population_occ.mT @ population_virt).reshape(-1)
                self._lower_bound = self._lower_bound + 2.0 * min(smallest, 0.0) * charge_bound
            self._coulomb_diagonal = coulomb
        self._diagonal = torch.full_like(self._lower_bound, float("nan"))  # exact values, filled on request

    @property
    def size(self) -> int:
        """Number of CSFs, ``n_occ * n_virt``."""
        return self.n_occ * self.n_virt

    def restrict(self, first_occupied: int, n_virtual: int) -> "CSFSpace":
        """The subspace of occupied orbitals ``first_occupied:`` and virtual orbitals ``:n_virtual``.

        Shares the exact diagonal elements computed so far (copied) and the bound.
        """
        sub = object.__new__(CSFSpace)
        sub.__dict__.update(self.__dict__)
        sub._occupied, sub._virtual = self._occupied[:, first_occupied:], self._virtual[:, :n_virtual]
        sub.n_occ, sub.n_virt = sub._occupied.shape[1], sub._virtual.shape[1]

        def part(values: torch.Tensor) -> torch.Tensor:
            return values.reshape(self.n_occ, self.n_virt)[first_occupied:, :n_virtual].reshape(-1)

        sub.orbital_differences = part(self.orbital_differences)
        sub._lower_bound, sub._coulomb_diagonal = part(self._lower_bound), part(self._coulomb_diagonal)
        sub._diagonal = part(self._diagonal).clone()
        return sub

    def diagonal_lower_bound(self) -> torch.Tensor:
        r"""A lower bound of every :math:`A'_{ia,ia}`, eV, ``(n_csf,)``, detached."""
        return self._lower_bound

    def diagonal(self, csfs: torch.Tensor | None = None) -> torch.Tensor:
        r""":math:`A'_{ia,ia}` of ``csfs`` (long indices; ``None``: all), eV, detached: for the selection only.

        Computed once per CSF, :data:`BATCH_ELEMENTS` at a time.
        """
        if csfs is None:
            csfs = torch.arange(self.size, device=self._diagonal.device)
        missing = csfs[torch.isnan(self._diagonal[csfs])]
        with torch.no_grad():
            for batch in self._batches(missing, self.n_ao + self.n_atoms):
                charges = self._charges(batch)
                exchange = (charges * (self._gamma_exchange @ charges)).sum(0)
                self._diagonal[batch] = (self.orbital_differences[batch].detach() + 2.0 * exchange
                                         - self._coulomb_diagonal[batch])
        return self._diagonal[csfs]

    def lowest(self, limit: Callable[[torch.Tensor], float]) -> tuple[torch.Tensor, torch.Tensor]:
        """Exact diagonal elements of every CSF whose lower bound is at most ``limit(values)``.

        ``limit`` maps the exact diagonal values found so far to a bound that can only fall as more
        are found (e.g. the k-th lowest); CSFs are evaluated in ascending order of their lower
        bound until the next one's bound exceeds it. Returns ``(indices, values)``, eV.
        """
        bound = self._lower_bound
        order = torch.argsort(bound)
        batch, start, values = FIRST_ROUND, 0, bound[:0]
        while start < len(order):
            current = limit(values) if len(values) else float("inf")
            if float(bound[order[start]]) > current:
                break
            values = torch.cat([values, self.diagonal(order[start:start + batch])])
            start += batch
            batch *= 2
        return order[:start], values

    def block(self, rows: torch.Tensor, columns: torch.Tensor) -> torch.Tensor:
        r"""The block :math:`A'_{kl}` for CSFs ``k`` in ``rows`` and ``l`` in ``columns`` (long index tensors), eV.

        Returns ``(len(rows), len(columns))``, differentiable; built one tile of columns at a time
        (:meth:`tiles`), so that besides the result memory stays ``O(BATCH_ELEMENTS)``.
        """
        result = self.orbital_differences.new_zeros(len(rows), len(columns))
        if len(rows) == 0 or len(columns) == 0:
            return result
        potentials = self.row_potentials(rows)
        for tile in self.tiles(columns, len(rows)):  # in place: one result, not a copy of it per tile
            result.index_copy_(1, tile, self.tile_block(rows, potentials, columns[tile]))
        return result

    def row_potentials(self, rows: torch.Tensor) -> torch.Tensor:
        r""":math:`\Gamma^K q^{ia}` of the row CSFs, ``(n_atoms, len(rows))``: shared by every tile of their block."""
        return self._gamma_exchange @ self._charges(rows)

    def tile_block(self, rows: torch.Tensor, potentials: torch.Tensor, columns: torch.Tensor) -> torch.Tensor:
        """The block of ``rows`` and one tile of ``columns`` (:meth:`tiles`), given :meth:`row_potentials`."""
        exchange = potentials.mT @ self._charges(columns)  # (ia|jb)'
        same = (rows[:, None] == columns[None, :]).to(exchange.dtype)
        return 2.0 * exchange - self._coulomb(rows, columns) + same * self.orbital_differences[rows][:, None]

    def tiles(self, csfs: torch.Tensor, rows: int) -> Iterator[torch.Tensor]:
        """Positions in ``csfs`` (long CSF indices), grouped into tiles for a block with ``rows`` rows.

        A tile holds the CSFs of a square of at most ``side x side`` occupied x virtual orbitals, with
        ``side**2 * (rows + n_ao + n_atoms) <= BATCH_ELEMENTS``: the Coulomb term's intermediates grow
        with the number of distinct orbitals, not only with the number of CSFs.
        """
        side = max(1, int((BATCH_ELEMENTS // (rows + self.n_ao + self.n_atoms)) ** 0.5))
        # the Coulomb term's charges, (n_atoms, distinct row orbitals, side), stay within the batch too
        side = max(1, min(side, BATCH_ELEMENTS // (self.n_atoms * max(1, min(rows, self.n_occ + self.n_virt)))))
        occupied, virtual = self._split(csfs)
        key = torch.div(occupied, side, rounding_mode="floor") * (self.n_virt // side + 1) \
            + torch.div(virtual, side, rounding_mode="floor")
        order = torch.argsort(key, stable=True)
        _, counts = torch.unique_consecutive(key[order], return_counts=True)
        yield from torch.split(order, counts.tolist())

    def _batches(self, csfs: torch.Tensor, per_csf: int) -> Iterator[torch.Tensor]:
        size = max(1, BATCH_ELEMENTS // max(per_csf, 1))
        for start in range(0, len(csfs), size):
            yield csfs[start:start + size]

    def _split(self, csfs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return torch.div(csfs, self.n_virt, rounding_mode="floor"), csfs % self.n_virt

    def _charges(self, csfs: torch.Tensor) -> torch.Tensor:
        """:math:`q_A^{ia}` of ``csfs``, ``(n_atoms, len(csfs))``."""
        occupied, virtual = self._split(csfs)
        return transition_charges(self._slots, self.n_atoms, self._occupied[:, occupied], self._virtual[:, virtual])

    def _coulomb(self, rows: torch.Tensor, columns: torch.Tensor) -> torch.Tensor:
        r""":math:`(ij|ab)'` for rows ``ia`` and columns ``jb``, ``(len(rows), len(columns))``.

        Only the orbitals the rows and columns use enter: :math:`q^{ij}` over the rows' i and the
        columns' j, :math:`q^{ab}` over the rows' a and the columns' b, with :math:`\Gamma^J`
        applied to the smaller; then one product per virtual orbital of the rows.
        """
        row_occ, row_virt = self._split(rows)
        column_occ, column_virt = self._split(columns)
        occ_i, i_position = torch.unique(row_occ, return_inverse=True)
        virt_a, a_position = torch.unique(row_virt, return_inverse=True)
        occ_j, j_position = torch.unique(column_occ, return_inverse=True)
        virt_b, b_position = torch.unique(column_virt, return_inverse=True)
        charges_ij = pair_charges(self._slots, self.n_atoms, self._occupied[:, occ_i], self._occupied[:, occ_j])
        charges_ab = pair_charges(self._slots, self.n_atoms, self._virtual[:, virt_a], self._virtual[:, virt_b])
        n_atoms = self.n_atoms
        if charges_ij[0].numel() <= charges_ab[0].numel():
            charges_ij = (self._gamma_coulomb @ charges_ij.reshape(n_atoms, -1)).reshape(charges_ij.shape)
        else:
            charges_ab = (self._gamma_coulomb @ charges_ab.reshape(n_atoms, -1)).reshape(charges_ab.shape)
        column_pairs = j_position * len(virt_b) + b_position
        # rows sharing a virtual orbital share q^{ab}: one product for them (grouped without a sync per group)
        order = torch.argsort(a_position, stable=True)
        counts = torch.bincount(a_position, minlength=len(virt_a)).tolist()
        pieces = []
        for a, selected in enumerate(torch.split(order, counts)):
            left = charges_ij[:, i_position[selected], :].reshape(n_atoms, -1)  # (n_atoms, n_sel * n_j)
            product = (left.mT @ charges_ab[:, a, :]).reshape(len(selected), -1)  # (n_sel, n_j * n_b)
            pieces.append(product[:, column_pairs])
        return torch.cat(pieces)[torch.argsort(order)]
