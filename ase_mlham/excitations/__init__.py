"""Excited states from the minimal-basis Hamiltonian: the simplified Tamm-Dancoff approximation (sTDA).

:func:`stda_excitations` takes orbital energies (eV) and Löwdin-basis
coefficients of H', atomic numbers, positions (Angstrom) and ``nocc`` and
returns the lowest singlet excitation energies (eV), oscillator strengths and
transition dipoles (:class:`Excitations`); :func:`stda_from_hamiltonian` starts
from H' itself. :class:`STDASettings` holds the number of states, ``a_x``
(0.20 for B3LYP) and the CSF selection.

Modules: :mod:`.parameters` (published constants, settings), :mod:`.integrals`
(transition charges, MNOK interactions), :mod:`.matrix` (the sTDA matrix),
:mod:`.selection` (which CSFs enter), :mod:`.stda` (diagonalisation, dipoles).
"""

from ase_mlham.excitations.parameters import A_X_B3LYP, STDASettings
from ase_mlham.excitations.stda import Excitations, lowdin_dipole_integrals, stda_excitations, stda_from_hamiltonian

__all__ = ["A_X_B3LYP", "Excitations", "STDASettings", "lowdin_dipole_integrals", "stda_excitations",
           "stda_from_hamiltonian"]
