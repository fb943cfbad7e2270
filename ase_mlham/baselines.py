"""Physics-only baselines for the orbital-energy window: B3LYP/STO-3G and GFN2-xTB.

Both are compared with the same B3LYP/def2-TZVP window as the model (the lowest
``N_min`` MO energies, see :mod:`ase_mlham.metrics`).

* **B3LYP/STO-3G**: the eigenvalues of the minimal-basis calculation stored in
  every reference row (``sto3g_mo_energies``). Same basis size, so the arrays
  align one to one, core included.
* **GFN2-xTB** (tblite): a valence-only minimal basis (H 1s; C, N, O 2s 2p), so
  it has ``N_min - n_heavy`` orbitals and ``nocc - n_heavy`` doubly occupied
  ones for a neutral closed-shell molecule. :func:`align_xtb_to_window` puts
  them on the reference window:

  - core (C/N/O 1s): no counterpart, NaN;
  - occupied valence from the HOMO downwards: xTB orbital ``xtb_nocc-1-k``
    against reference orbital ``nocc-1-k`` for ``k = 0, 1, ...`` while both
    have an occupied valence orbital;
  - HOMO, LUMO and virtuals from the LUMO upwards: xTB ``xtb_nocc+k`` against
    reference ``nocc+k`` while both have one within the window.

  With the usual counts every valence and virtual orbital of the window is
  matched; the rule still holds (leaving NaN) if they differ. xTB total
  energies are on a different scale from DFT ones and are not compared.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from ase_mlham.metrics import number_of_core_orbitals
from ase_mlham.units import BOHR_TO_ANGSTROM, HARTREE_TO_EV

#: Methods of :func:`xtb_orbital_energies` (tblite's built-in parametrisations).
XTB_METHODS: tuple[str, ...] = ("GFN2-xTB", "GFN1-xTB", "IPEA1-xTB")


def sto3g_orbital_energies(frame) -> np.ndarray:
    """The stored B3LYP/STO-3G eigenvalues of a :class:`~ase_mlham.data.dataset.ReferenceFrame`.

    Returns a copy, shape ``(n_min,)``, eV ascending, aligned with ``frame.mo_target``.
    """
    energies = np.array(frame.sto3g_mo_energies, dtype=float)
    if energies.shape != np.shape(frame.mo_target):
        raise ValueError(
            f"frame {frame.molecule!r}/{frame.frame}: sto3g_mo_energies has shape {energies.shape}, "
            f"expected {np.shape(frame.mo_target)} like mo_target"
        )
    return energies


def xtb_orbital_energies(numbers: Sequence[int], positions: np.ndarray, method: str = "GFN2-xTB",
                         charge: int = 0, accuracy: float = 1.0) -> tuple[np.ndarray, int]:
    """Orbital energies of a tblite xTB singlepoint.

    Parameters
    ----------
    numbers
        Atomic numbers, shape ``(n_atoms,)``.
    positions
        Cartesian positions in Angstrom, shape ``(n_atoms, 3)``.
    method
        One of :data:`XTB_METHODS`.
    charge
        Total charge (closed shell assumed).
    accuracy
        tblite's SCC accuracy setting (1.0 is tblite's default).

    Returns
    -------
    energies : numpy.ndarray
        ``(n_xtb_orbitals,)`` ascending orbital energies in eV (tblite returns
        Hartree). GFN2-xTB has one orbital for H and four (2s, 2p) for C, N, O.
    nocc : int
        Doubly occupied orbitals: half the electrons counted by tblite's
        orbital occupations (which are Fermi-smeared at its default 300 K).
    """
    try:
        from tblite.interface import Calculator
    except ImportError as error:  # pragma: no cover - tblite is a hard dependency
        raise ImportError("the xTB baseline needs tblite: pip install tblite") from error
    if method not in XTB_METHODS:
        raise ValueError(f"method must be one of {XTB_METHODS}, got {method!r}")
    numbers = np.asarray(numbers, dtype=int)
    positions = np.asarray(positions, dtype=float)
    if numbers.ndim != 1 or positions.shape != (len(numbers), 3):
        raise ValueError(
            f"positions must have shape (n_atoms, 3) = ({len(numbers)}, 3) to match numbers, got {positions.shape}"
        )
    calculator = Calculator(method, numbers, positions / BOHR_TO_ANGSTROM, charge=float(charge))
    calculator.set("verbosity", 0)
    calculator.set("accuracy", float(accuracy))
    result = calculator.singlepoint()
    energies = np.asarray(result.get("orbital-energies"), dtype=float) * HARTREE_TO_EV
    occupations = np.asarray(result.get("orbital-occupations"), dtype=float)
    order = np.argsort(energies, kind="stable")
    electrons = float(occupations.sum())
    nocc = int(round(electrons / 2.0))
    if abs(electrons - 2 * nocc) > 1e-6:
        raise ValueError(f"{method}: {electrons:.6f} valence electrons is not a closed shell")
    return energies[order], nocc


def align_xtb_to_window(xtb_energies: Sequence[float], xtb_nocc: int, numbers: Sequence[int], nocc: int,
                        n_min: int) -> np.ndarray:
    """xTB orbital energies placed on the reference window, NaN where xTB has no counterpart.

    Parameters
    ----------
    xtb_energies
        Ascending xTB orbital energies in eV, shape ``(n_xtb,)``.
    xtb_nocc
        Doubly occupied xTB orbitals (all valence).
    numbers
        Atomic numbers, shape ``(n_atoms,)``: fixes the reference core count.
    nocc, n_min
        Doubly occupied orbitals and window length of the reference.

    Returns
    -------
    numpy.ndarray
        ``(n_min,)`` eV: core entries NaN; occupied valence matched from the
        HOMO downwards, virtuals from the LUMO upwards (module docstring);
        anything left over NaN.
    """
    xtb_energies = np.asarray(xtb_energies, dtype=float)
    xtb_nocc, nocc, n_min = int(xtb_nocc), int(nocc), int(n_min)
    if not 0 <= xtb_nocc <= len(xtb_energies):
        raise ValueError(f"xtb_nocc must be between 0 and {len(xtb_energies)}, got {xtb_nocc}")
    n_core = number_of_core_orbitals(numbers)
    if not n_core < nocc <= n_min:
        raise ValueError(f"nocc must satisfy n_core < nocc <= n_min = {n_core} < nocc <= {n_min}, got {nocc}")
    aligned = np.full(n_min, np.nan)
    n_occupied = min(nocc - n_core, xtb_nocc)
    for k in range(n_occupied):
        aligned[nocc - 1 - k] = xtb_energies[xtb_nocc - 1 - k]
    n_virtual = min(n_min - nocc, len(xtb_energies) - xtb_nocc)
    aligned[nocc:nocc + n_virtual] = xtb_energies[xtb_nocc:xtb_nocc + n_virtual]
    return aligned


def xtb_window(frame, method: str = "GFN2-xTB") -> np.ndarray:
    """:func:`xtb_orbital_energies` of a reference frame aligned on its window, ``(n_min,)`` eV."""
    energies, xtb_nocc = xtb_orbital_energies(frame.numbers, frame.positions, method=method)
    return align_xtb_to_window(energies, xtb_nocc, frame.numbers, frame.nocc, frame.n_min)
