r"""Singlet excitation energies and oscillator strengths by sTDA from minimal-basis orbitals.

Given the orbitals of a Löwdin-orthogonal minimal-basis Hamiltonian
(:math:`H' C' = C' \varepsilon`, energies in eV), sTDA (Grimme, J. Chem. Phys.
138, 244104 (2013)) solves the Tamm-Dancoff eigenproblem

.. math::

    A' X_n = \omega_n X_n, \qquad
    A'_{ia,jb} = \delta_{ij}\delta_{ab}(\varepsilon_a - \varepsilon_i) + 2\,(ia|jb)' - (ij|ab)'

over a selected set of single excitations (:mod:`~ase_mlham.excitations.selection`),
with the integrals of :mod:`~ase_mlham.excitations.integrals`. The Löwdin
coefficients needed for the transition charges are exactly the eigenvectors of
H', so no overlap enters the matrix. Transition dipoles use the analytic STO-3G
dipole integrals in the Löwdin basis, :math:`\mathbf d' = S^{-1/2} \mathbf d S^{-1/2}`:

.. math::

    \boldsymbol\mu_n = \sqrt 2 \sum_{ia} X_{n,ia}\, \langle i | \mathbf r | a \rangle, \qquad
    f_n = \tfrac23\, \omega_n\, |\boldsymbol\mu_n|^2 \quad \text{(atomic units)}.

Between orthonormal orbitals :math:`\langle i | \mathbf r - \mathbf O | a \rangle`
does not depend on the origin :math:`\mathbf O`; the centroid of the atoms is used
so that rounding does not either.

Everything is vectorised torch code in the inputs' dtype (use float64) and
differentiable with respect to orbital energies, coefficients and positions
(the CSF selection is piecewise constant; eigenvector-based quantities, i.e. the
oscillator strengths, have no defined gradient at degenerate excitations).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch

from ase_mlham.basis import check_supported, dipole_integrals, lowdin_orthogonalizer, n_basis_functions, overlap_matrix
from ase_mlham.excitations.integrals import ao_slots, mnok_gamma
from ase_mlham.excitations.matrix import CSFSpace
from ase_mlham.excitations.parameters import STDASettings, coulomb_exponent, exchange_exponent
from ase_mlham.excitations.selection import active_orbitals, energy_threshold, primary_csfs, secondary_csfs
from ase_mlham.units import BOHR_TO_ANGSTROM, HARTREE_TO_EV
from ase_mlham.validation import check_numbers_and_positions


@dataclass
class Excitations:
    """The lowest singlet excitations of one molecule.

    Attributes
    ----------
    energies
        ``(n_states,)`` excitation energies, eV, ascending. A HOMO-LUMO gap smaller
        than the electron-hole attraction (an unphysical H', e.g. an untrained
        model) can make the lowest ones negative: nothing here hides that.
    oscillator_strengths
        ``(n_states,)`` dimensionless (length gauge).
    transition_dipoles
        ``(n_states, 3)`` :math:`\\langle 0 | \\mathbf r | n \\rangle`, e Angstrom (sign arbitrary).
    amplitudes
        ``(n_states, n_csf)`` normalised TDA vectors over the selected CSFs (sign arbitrary).
    occupied, virtual
        ``(n_csf,)`` orbital indices (0-based, ascending energy order) of each CSF i -> a.
    n_primary, n_secondary
        How many CSFs were selected by energy and by perturbation theory.
    energy_threshold
        :math:`E_\\mathrm{thr}`, eV (``inf`` when every CSF is kept).
    """

    energies: torch.Tensor
    oscillator_strengths: torch.Tensor
    transition_dipoles: torch.Tensor
    amplitudes: torch.Tensor
    occupied: torch.Tensor
    virtual: torch.Tensor
    n_primary: int
    n_secondary: int
    energy_threshold: float

    @property
    def n_states(self) -> int:
        """Number of excitations returned."""
        return len(self.energies)


def _check_inputs(orbital_energies, coefficients, numbers, positions, nocc, settings) -> np.ndarray:
    numbers = check_numbers_and_positions(numbers, positions)
    check_supported(numbers)
    for name, value in (("orbital_energies", orbital_energies), ("coefficients", coefficients)):
        if not isinstance(value, torch.Tensor):
            raise TypeError(f"{name} must be a torch.Tensor, got {type(value).__name__}")
        if value.dtype != positions.dtype:
            raise TypeError(f"{name} must have the dtype of positions ({positions.dtype}), got {value.dtype}")
    n_orbitals = n_basis_functions(numbers)
    if orbital_energies.shape != (n_orbitals,):
        raise ValueError(f"orbital_energies must have shape (n_orbitals,) = ({n_orbitals},) for these atoms, "
                         f"got {tuple(orbital_energies.shape)}")
    if coefficients.shape != (n_orbitals, n_orbitals):
        raise ValueError(f"coefficients must have shape (n_orbitals, n_orbitals) = ({n_orbitals}, {n_orbitals}), "
                         f"got {tuple(coefficients.shape)}")
    if not (bool(torch.isfinite(orbital_energies).all()) and bool(torch.isfinite(coefficients).all())):
        raise ValueError("orbital_energies and coefficients must be finite, got NaN or infinite values")
    steps = orbital_energies.detach()[1:] - orbital_energies.detach()[:-1]
    if len(steps) and float(steps.min()) < -1e-8:
        raise ValueError("orbital_energies must be in ascending order (as from torch.linalg.eigh)")
    if not isinstance(nocc, (int, np.integer)) or isinstance(nocc, bool):
        raise TypeError(f"nocc must be an integer, got {type(nocc).__name__}")
    if not 0 < nocc < n_orbitals:
        raise ValueError(f"nocc must be between 1 and n_orbitals - 1 = {n_orbitals - 1} "
                         f"(at least one occupied and one virtual orbital), got {nocc}")
    if not isinstance(settings, STDASettings):
        raise TypeError(f"settings must be an STDASettings, got {type(settings).__name__}")
    return numbers


def _orthogonalizer_and_dipoles(numbers: Sequence[int], positions: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    r""":math:`S^{-1/2}` ``(n_ao, n_ao)`` and the AO dipole integrals :math:`\langle\mu|\mathbf r - \mathbf O|\nu\rangle`
    ``(3, n_ao, n_ao)`` (Angstrom), origin :math:`\mathbf O` at the centroid of ``positions``."""
    orthogonalizer = lowdin_orthogonalizer(overlap_matrix(numbers, positions))
    return orthogonalizer, dipole_integrals(numbers, positions, origin=positions.mean(dim=0))


def lowdin_dipole_integrals(numbers: Sequence[int], positions: torch.Tensor) -> torch.Tensor:
    r"""Dipole integrals in the Löwdin basis, :math:`S^{-1/2} \langle\mu|\mathbf r - \mathbf O|\nu\rangle S^{-1/2}`.

    ``positions`` ``(n_atoms, 3)`` Angstrom; origin :math:`\mathbf O` at their centroid.
    Returns ``(3, n_ao, n_ao)`` in Angstrom.
    """
    orthogonalizer, dipoles = _orthogonalizer_and_dipoles(numbers, positions)
    return orthogonalizer @ dipoles @ orthogonalizer


def stda_excitations(orbital_energies: torch.Tensor, coefficients: torch.Tensor, numbers: Sequence[int],
                     positions: torch.Tensor, nocc: int, settings: STDASettings = STDASettings()) -> Excitations:
    """Lowest singlet excitations of a closed-shell molecule by sTDA (see the module docstring).

    Parameters
    ----------
    orbital_energies
        ``(n_orbitals,)`` eV, ascending: the eigenvalues of H'.
    coefficients
        ``(n_orbitals, n_orbitals)`` Löwdin-basis coefficients C', column k is orbital k
        (the eigenvectors of H'), AO order of :func:`ase_mlham.basis.ao_labels`.
    numbers
        ``(n_atoms,)`` atomic numbers (H, C, N, O).
    positions
        ``(n_atoms, 3)`` Angstrom, same dtype as the orbitals.
    nocc
        Doubly occupied orbitals.
    settings
        :class:`~ase_mlham.excitations.parameters.STDASettings` (``a_x`` 0.20 for B3LYP).

    Returns
    -------
    :class:`Excitations` with ``min(settings.n_states, n_csf)`` states.
    """
    numbers = _check_inputs(orbital_energies, coefficients, numbers, positions, nocc, settings)
    slots = ao_slots(numbers, positions.device)
    gamma_exchange = mnok_gamma(numbers, positions, exchange_exponent(settings.a_x))
    gamma_coulomb = mnok_gamma(numbers, positions, coulomb_exponent(settings.a_x), hardness_scale=settings.a_x)

    n_orbitals = len(orbital_energies)
    full_space = CSFSpace(orbital_energies[:nocc], orbital_energies[nocc:], coefficients[:, :nocc],
                          coefficients[:, nocc:], slots, gamma_exchange, gamma_coulomb)
    budget = None if settings.csfs_per_state is None else settings.csfs_per_state * settings.n_states
    threshold = energy_threshold(full_space, settings.energy_window, budget)
    first_occupied, end_virtual = active_orbitals(orbital_energies, nocc, threshold, settings.a_x)
    space = full_space
    if (first_occupied, end_virtual) != (0, n_orbitals):
        space = full_space.restrict(first_occupied, end_virtual - nocc)
        if space.size < min(settings.n_states, full_space.size):  # the window is too narrow to hold n_states
            first_occupied, end_virtual, space = 0, n_orbitals, full_space

    primary = primary_csfs(space, threshold, settings.n_states)
    secondary = secondary_csfs(space, primary, settings.perturbative_threshold,
                               None if budget is None else budget - len(primary))
    selected = torch.cat([primary, secondary])
    matrix = space.block(selected, selected)
    matrix = 0.5 * (matrix + matrix.mT)  # exactly symmetric for eigh's backward
    values, vectors = torch.linalg.eigh(matrix)
    n_states = min(settings.n_states, len(selected))
    energies, amplitudes = values[:n_states], vectors[:, :n_states].mT

    occupied_index = torch.div(selected, space.n_virt, rounding_mode="floor")
    virtual_index = selected % space.n_virt
    # <i|r|a> = C'_i S^-1/2 d S^-1/2 C'_a: S^-1/2 applied to the few orbitals the CSFs use (AO coefficients),
    # not to d itself (six (n_ao, n_ao) products: most of sTDA's time at 1000 atoms)
    orthogonalizer, dipoles = _orthogonalizer_and_dipoles(numbers, positions)
    occupied_orbitals, occupied_position = torch.unique(occupied_index, return_inverse=True)
    virtual_orbitals, virtual_position = torch.unique(virtual_index, return_inverse=True)
    occupied = (orthogonalizer @ coefficients[:, first_occupied:nocc][:, occupied_orbitals])[:, occupied_position]
    virtual = (orthogonalizer @ coefficients[:, nocc:end_virtual][:, virtual_orbitals])[:, virtual_position]
    csf_dipoles = torch.einsum("mk,xmn,nk->kx", occupied, dipoles, virtual)  # <i|r|a> per CSF, Angstrom
    transition_dipoles = math.sqrt(2.0) * amplitudes @ csf_dipoles
    squared_bohr = (transition_dipoles * transition_dipoles).sum(-1) / BOHR_TO_ANGSTROM**2
    strengths = (2.0 / 3.0) * (energies / HARTREE_TO_EV) * squared_bohr
    return Excitations(
        energies=energies,
        oscillator_strengths=strengths,
        transition_dipoles=transition_dipoles,
        amplitudes=amplitudes,
        occupied=occupied_index + first_occupied,
        virtual=virtual_index + nocc,
        n_primary=len(primary),
        n_secondary=len(secondary),
        energy_threshold=threshold,
    )


def stda_from_hamiltonian(hamiltonian: torch.Tensor, numbers: Sequence[int], positions: torch.Tensor,
                          nocc: int | None = None, settings: STDASettings = STDASettings()) -> Excitations:
    r"""sTDA excitations of a Löwdin-orthogonal minimal-basis Hamiltonian H' (eV, ``(n_ao, n_ao)``).

    Diagonalises H' (``torch.linalg.eigh``) and calls :func:`stda_excitations`.
    ``nocc`` defaults to half the electron count of the neutral molecule. For an
    exact reference, pass :math:`S^{-1/2} F S^{-1/2}` of a B3LYP/STO-3G Kohn-Sham
    matrix F (:func:`ase_mlham.basis.lowdin_transform`).
    """
    from ase_mlham.electronic import number_of_occupied_orbitals

    if not isinstance(hamiltonian, torch.Tensor):
        raise TypeError(f"hamiltonian must be a torch.Tensor, got {type(hamiltonian).__name__}")
    if hamiltonian.ndim != 2 or hamiltonian.shape[0] != hamiltonian.shape[1]:
        raise ValueError(f"hamiltonian must be a square (n_ao, n_ao) matrix, got shape {tuple(hamiltonian.shape)}")
    if nocc is None:
        nocc = number_of_occupied_orbitals(check_numbers_and_positions(numbers, positions))
    energies, coefficients = torch.linalg.eigh(0.5 * (hamiltonian + hamiltonian.mT))
    return stda_excitations(energies, coefficients, numbers, positions, nocc, settings)
