"""Energy and force targets: the reference level a model predicts, and what its energy head learns.

A model's total energy targets the reference (B3LYP/def2-TZVP), plus its D4 dispersion when
``ModelSettings.dispersion`` (B3LYP-D4, :func:`reference_energy_forces`). With an energy baseline
(GFN2-xTB) the energy head learns the reference minus the baseline (:func:`head_targets`); the
baseline's energies and forces are computed once per frame and kept in a :class:`BaselineCache`
(keyed by method, accuracy, tblite version and the exact geometry), so that training, evaluation and
benchmarks do not recompute them.
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
from pathlib import Path

import numpy as np

from ase_mlham.data.dataset import ReferenceFrame
from ase_mlham.model.baseline import xtb_energy_forces
from ase_mlham.model.settings import ModelSettings

#: Where the baseline cache lives unless a path is given (``mlham train --baseline-cache``).
DEFAULT_CACHE = Path.home() / ".cache" / "ase-mlham" / "baseline.sqlite"


def reference_energy_forces(frame: ReferenceFrame, settings: ModelSettings) -> tuple[float, np.ndarray]:
    """The energy (eV) and forces (``(n_atoms, 3)`` eV/Angstrom) a model's total prediction targets."""
    if not settings.dispersion:
        return frame.energy, frame.forces
    if frame.d4_energy is None or frame.d4_forces is None:
        raise ValueError(f"frame {frame.molecule!r}/{frame.frame} (row {frame.row_id}) lacks d4_energy/d4_forces, "
                         "which a model targeting B3LYP-D4 needs: add them with `mlham dispersion DB`")
    return frame.energy + frame.d4_energy, frame.forces + frame.d4_forces


class BaselineCache:
    """Baseline energies and forces by geometry, in one SQLite file (``None``: not kept at all).

    Each entry is written in its own transaction, so concurrent or interrupted runs lose nothing.
    """

    def __init__(self, path: str | os.PathLike | None = DEFAULT_CACHE) -> None:
        self.path = None if path is None else Path(path)
        self._connection = None

    def _key(self, method: str, accuracy: float, numbers: np.ndarray, positions: np.ndarray) -> str:
        import tblite

        digest = hashlib.sha256()
        digest.update(f"{method}|{accuracy!r}|{getattr(tblite, '__version__', '?')}".encode())
        digest.update(np.ascontiguousarray(numbers, dtype=np.int64).tobytes())
        digest.update(np.ascontiguousarray(positions, dtype=np.float64).tobytes())
        return digest.hexdigest()

    def _open(self):
        if self._connection is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._connection = sqlite3.connect(self.path, timeout=60)
            self._connection.execute("create table if not exists baseline (key text primary key, energy real, "
                                     "forces blob)")
        return self._connection

    def energy_forces(self, method: str, accuracy: float, numbers: np.ndarray, positions: np.ndarray
                      ) -> tuple[float, np.ndarray]:
        """The baseline of one geometry: from the cache, or computed and stored."""
        if self.path is None:
            return xtb_energy_forces(numbers, positions, method, accuracy)
        key = self._key(method, accuracy, numbers, positions)
        connection = self._open()
        found = connection.execute("select energy, forces from baseline where key = ?", (key,)).fetchone()
        if found is not None:
            return float(found[0]), np.frombuffer(found[1], dtype=np.float64).reshape(-1, 3).copy()
        energy, forces = xtb_energy_forces(numbers, positions, method, accuracy)
        with connection:
            connection.execute("insert or replace into baseline values (?, ?, ?)",
                               (key, energy, np.ascontiguousarray(forces, dtype=np.float64).tobytes()))
        return energy, forces


def head_targets(frame: ReferenceFrame, settings: ModelSettings, cache: BaselineCache | None = None
                 ) -> tuple[float, np.ndarray]:
    """What the energy head of a model with ``settings`` learns for ``frame``: the reference level minus
    the baseline (when the model has one), energy eV and forces ``(n_atoms, 3)`` eV/Angstrom."""
    energy, forces = reference_energy_forces(frame, settings)
    if settings.energy_baseline is None:
        return energy, forces
    cache = cache if cache is not None else BaselineCache(None)
    baseline_energy, baseline_forces = cache.energy_forces(settings.energy_baseline, settings.baseline_accuracy,
                                                           frame.numbers, frame.positions)
    return energy - baseline_energy, forces - baseline_forces
