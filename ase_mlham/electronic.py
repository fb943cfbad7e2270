"""From a Löwdin-orthogonal minimal-basis Hamiltonian to orbitals and their occupations.

The model predicts :math:`H'` in the Löwdin-orthogonal STO-3G basis, so the
orbital energies are the eigenvalues of a plain symmetric eigenproblem
:math:`H' C' = C' \\varepsilon`. Molecules are closed-shell: the lowest
``nocc = n_electrons / 2`` orbitals are doubly occupied.

Only eigenvalues are safe to differentiate at degeneracies (symmetric
molecules); :func:`orbital_energies` uses ``eigvalsh`` for that reason and
:func:`solve_orbitals` also returns eigenvectors, for results, not for losses.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch


def number_of_occupied_orbitals(numbers: Sequence[int], charge: int = 0) -> int:
    """Doubly occupied orbitals of a closed-shell molecule; ``ValueError`` for an odd electron count."""
    n_electrons = int(np.sum(numbers)) - int(charge)
    if n_electrons <= 0 or n_electrons % 2:
        raise ValueError(f"closed-shell molecules only: {n_electrons} electrons cannot be doubly occupied")
    return n_electrons // 2


def orbital_energies(hamiltonian: torch.Tensor) -> torch.Tensor:
    """Ascending eigenvalues of a symmetric ``(..., n, n)`` Hamiltonian, same units (eV).

    Differentiable, also at degeneracies (the gradient of an eigenvalue sum over
    a degenerate subspace is well defined; individual eigenvector gradients are not).
    """
    return torch.linalg.eigvalsh(hamiltonian)


def padded_orbital_energies(hamiltonians: Sequence[torch.Tensor], padding_energy: float = 1.0e4
                            ) -> tuple[torch.Tensor, torch.Tensor]:
    """Eigenvalues of molecules of different sizes in one batched eigensolve.

    Each ``(n_k, n_k)`` matrix is embedded in an ``(n_max, n_max)`` one whose
    extra diagonal entries are ``padding_energy`` (eV, far above any orbital),
    so the padded eigenvalues sort to the end and the real ones are exact.

    Returns
    -------
    energies : ``(n_molecules, n_max)``, eV; padded entries hold ``padding_energy``.
    mask : ``(n_molecules, n_max)`` bool, True for real orbitals.
    """
    n_max = max(h.shape[-1] for h in hamiltonians)
    reference = hamiltonians[0]
    batch = torch.zeros(len(hamiltonians), n_max, n_max, dtype=reference.dtype, device=reference.device)
    mask = torch.zeros(len(hamiltonians), n_max, dtype=torch.bool, device=reference.device)
    padding = torch.full((n_max,), padding_energy, dtype=reference.dtype, device=reference.device)
    for k, h in enumerate(hamiltonians):
        n = h.shape[-1]
        batch[k, :n, :n] = h
        batch[k, n:, n:] = torch.diag(padding[n:])
        mask[k, :n] = True
    return orbital_energies(batch), mask


@dataclass
class Orbitals:
    """Orbitals of one closed-shell molecule in the Löwdin-orthogonal basis.

    ``energies`` ``(n_orbitals,)`` eV ascending; ``coefficients`` ``(n_orbitals, n_orbitals)``,
    column k is orbital k; ``nocc`` doubly occupied orbitals.
    """

    energies: torch.Tensor
    coefficients: torch.Tensor
    nocc: int

    @property
    def homo(self) -> torch.Tensor:
        """Highest occupied orbital energy, eV."""
        return self.energies[self.nocc - 1]

    @property
    def lumo(self) -> torch.Tensor:
        """Lowest unoccupied orbital energy, eV (requires ``nocc < n_orbitals``)."""
        if self.nocc >= len(self.energies):
            raise ValueError("no unoccupied orbital in the minimal basis: LUMO undefined")
        return self.energies[self.nocc]

    @property
    def gap(self) -> torch.Tensor:
        """HOMO-LUMO gap, eV."""
        return self.lumo - self.homo

    @property
    def occupations(self) -> torch.Tensor:
        """Electrons per orbital (2 or 0), shape ``(n_orbitals,)``."""
        occupations = torch.zeros_like(self.energies)
        occupations[: self.nocc] = 2.0
        return occupations


def solve_orbitals(hamiltonian: torch.Tensor, nocc: int) -> Orbitals:
    """Eigen-decomposition of a symmetric ``(n, n)`` Löwdin-basis Hamiltonian (eV)."""
    if hamiltonian.ndim != 2 or hamiltonian.shape[0] != hamiltonian.shape[1]:
        raise ValueError(f"hamiltonian must be a square matrix, got shape {tuple(hamiltonian.shape)}")
    if not 0 < nocc <= hamiltonian.shape[0]:
        raise ValueError(f"nocc must be between 1 and {hamiltonian.shape[0]}, got {nocc}")
    energies, coefficients = torch.linalg.eigh(hamiltonian)
    return Orbitals(energies, coefficients, nocc)
