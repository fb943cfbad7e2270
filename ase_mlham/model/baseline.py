"""The physical baseline of the energy: GFN2-xTB energies and forces from tblite, in process.

A model with ``ModelSettings.energy_baseline = "GFN2-xTB"`` predicts

.. math:: E = E_\\text{GFN2-xTB} + \\Delta E_\\text{ML}, \\qquad F = F_\\text{GFN2-xTB} - \\nabla \\Delta E_\\text{ML},

and its energy head is trained on B3LYP-D4 minus GFN2-xTB (:func:`energy_targets`). GFN2-xTB carries
D4 dispersion and multipole electrostatics itself, so the learned correction is short-ranged.

tblite's SCC accuracy: at its default (1.0) the forces of a 24-atom molecule miss minus the
finite-difference gradient of its own energy by up to 3e-5 eV/A here, and by ~4e-4 elsewhere; the
calculator's contract is 1e-4. :data:`XTB_ACCURACY` = 0.01 (100x tighter SCC) brings that below 1e-6
(``tests/model/test_baseline.py``) for a modest cost (``benchmarks/speed.py``). tblite runs with
``OMP_NUM_THREADS`` threads.
"""

from __future__ import annotations

import numpy as np

from ase_mlham.units import BOHR_TO_ANGSTROM, HARTREE_TO_EV

#: Methods a model may use as its energy baseline (tblite parametrisations).
ENERGY_BASELINES = ("GFN2-xTB",)

#: tblite's SCC accuracy setting of the baseline (smaller is tighter; tblite's default is 1.0).
XTB_ACCURACY = 0.01


class BaselineError(RuntimeError):
    """The baseline calculation failed (e.g. tblite's SCC did not converge)."""


def _calculator(method: str, numbers: np.ndarray, positions: np.ndarray, accuracy: float):
    from tblite.interface import Calculator

    if method not in ENERGY_BASELINES:
        raise ValueError(f"energy baseline must be one of {ENERGY_BASELINES}, got {method!r}")
    calculator = Calculator(method, np.asarray(numbers, dtype=int),
                            np.asarray(positions, dtype=float) / BOHR_TO_ANGSTROM, charge=0.0)
    calculator.set("verbosity", 0)
    calculator.set("accuracy", float(accuracy))
    return calculator


def _singlepoint(method: str, numbers: np.ndarray, positions: np.ndarray, accuracy: float):
    """A fresh tblite calculator and its first result; :class:`BaselineError` if the SCC fails."""
    calculator = _calculator(method, numbers, positions, accuracy)
    try:
        return calculator, calculator.singlepoint()
    except RuntimeError as err:  # tblite.exceptions.TBLiteRuntimeError
        raise BaselineError(f"{method} failed: {err}") from err


def _energy_forces(result) -> tuple[float, np.ndarray]:
    energy = float(result.get("energy")) * HARTREE_TO_EV
    forces = -np.asarray(result.get("gradient"), dtype=float) * (HARTREE_TO_EV / BOHR_TO_ANGSTROM)
    return energy, forces


def xtb_energy_forces(numbers: np.ndarray, positions: np.ndarray, method: str = "GFN2-xTB",
                      accuracy: float = XTB_ACCURACY) -> tuple[float, np.ndarray]:
    """tblite energy and forces of a neutral closed-shell molecule.

    Parameters
    ----------
    numbers
        Atomic numbers, ``(n_atoms,)``.
    positions
        Angstrom, ``(n_atoms, 3)``.
    method
        One of :data:`ENERGY_BASELINES`.
    accuracy
        tblite's SCC accuracy setting.

    Returns
    -------
    energy : float
        eV.
    forces : numpy.ndarray
        ``(n_atoms, 3)`` eV/Angstrom.
    """
    return _energy_forces(_singlepoint(method, numbers, positions, accuracy)[1])


class XTBBaseline:
    """:func:`xtb_energy_forces` along a trajectory: while the atoms stay the same, each SCC starts from
    the previous geometry's wavefunction, ~30% fewer iterations (a 39-atom molecule: 95 instead of
    150 ms); the result equals a fresh start to 4e-12 eV and 4e-6 eV/A (SCC accuracy 0.01). Keeps
    state: one per calculator, never shared between threads."""

    def __init__(self, method: str = "GFN2-xTB", accuracy: float = XTB_ACCURACY) -> None:
        self.method, self.accuracy = method, accuracy
        self._numbers: np.ndarray | None = None
        self._calculator = None
        self._result = None

    def __call__(self, numbers: np.ndarray, positions: np.ndarray) -> tuple[float, np.ndarray]:
        numbers = np.asarray(numbers, dtype=int)
        positions = np.asarray(positions, dtype=float)
        if self._numbers is not None and np.array_equal(numbers, self._numbers):
            try:
                self._calculator.update(positions / BOHR_TO_ANGSTROM)
                self._result = self._calculator.singlepoint(self._result)
                return _energy_forces(self._result)
            except RuntimeError:
                pass  # a restart that fails to converge: start afresh below
        self._numbers, self._calculator, self._result = None, None, None
        calculator, result = _singlepoint(self.method, numbers, positions, self.accuracy)
        self._numbers, self._calculator, self._result = numbers.copy(), calculator, result
        return _energy_forces(result)
