"""D4 dispersion of reference frames: the B3LYP-D4 energy and forces the energy model targets.

B3LYP itself has no dispersion, and nobody runs MD with dispersion-free B3LYP; GFN2-xTB carries D4.
Every reference row therefore stores the D4 correction of its functional (``dftd4``,
``DFTD4(method=xc)``: rational damping with that functional's parameters) in ``row.data``:

``d4_energy`` (eV) and ``d4_forces`` (eV/Angstrom, ``(n_atoms, 3)``)
    B3LYP-D4 energy = ``row.energy + d4_energy``, forces = ``row.forces + d4_forces``.

The same keys are in every row of ``shared/data`` (computed the same way, to 1e-15 eV); rows written
before they existed get them from :func:`add_dispersion` (``mlham dispersion DB``). A few ms a frame.
"""

from __future__ import annotations

import os

import numpy as np
from ase import Atoms

#: ``row.data`` keys of the dispersion correction.
DISPERSION_KEYS = ("d4_energy", "d4_forces")


def d4_dispersion(atoms: Atoms, xc: str = "b3lyp") -> tuple[float, np.ndarray]:
    """D4 dispersion energy (eV) and forces (``(n_atoms, 3)``, eV/Angstrom) of ``xc``'s parameters."""
    try:
        from dftd4.ase import DFTD4
    except ImportError as err:
        raise ImportError("D4 dispersion needs the dftd4 package: pip install dftd4") from err
    system = Atoms(numbers=atoms.numbers, positions=atoms.get_positions(), pbc=False)
    system.calc = DFTD4(method=xc)
    return float(system.get_potential_energy()), np.array(system.get_forces(), dtype=float)


def add_dispersion(db_path: str | os.PathLike) -> tuple[int, int]:
    """Add ``d4_energy`` and ``d4_forces`` to every row of ``db_path`` that lacks them.

    Each row is updated in its own SQLite transaction, so an interrupted run keeps what it did and a
    re-run completes the rest. Returns (rows updated, rows that already had them).
    """
    from ase.db import connect

    db = connect(str(db_path), type="db", use_lock_file=False)
    missing = [row.id for row in db.select() if not all(key in row.data for key in DISPERSION_KEYS)]
    present = db.count() - len(missing)
    for row_id in missing:
        row = db.get(id=row_id)
        energy, forces = d4_dispersion(row.toatoms(), row.xc)
        db.update(row_id, data={"d4_energy": energy, "d4_forces": forces})
    return len(missing), present
