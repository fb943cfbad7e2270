"""Reading reference databases into what training needs, and splitting them.

A :class:`ReferenceFrame` is one row of a database with the schema of
``shared/DATA.md`` reduced to training quantities: geometry, large-basis
energy and forces, and the indirect-learning target ``mo_energies[:N_min]``
(all ``nocc`` occupied orbitals plus the ``N_min - nocc`` lowest virtuals).
"""

from __future__ import annotations

import os
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np
from ase import Atoms

from ase_mlham.basis import n_basis_functions
from ase_mlham.data.schema import validate_row


@dataclass(frozen=True, eq=False)
class ReferenceFrame:
    """One reference configuration. Energies in eV, lengths in Angstrom."""

    molecule: str
    frame: int
    numbers: np.ndarray  # (n_atoms,) atomic numbers
    positions: np.ndarray  # (n_atoms, 3) Angstrom
    energy: float  # large-basis total energy, eV
    forces: np.ndarray  # (n_atoms, 3) eV/Angstrom
    nocc: int  # doubly occupied orbitals
    mo_target: np.ndarray  # (N_min,) lowest large-basis MO energies, eV
    sto3g_fock: np.ndarray  # (N_min, N_min) B3LYP/STO-3G Kohn-Sham matrix, eV, PySCF AO order
    sto3g_overlap: np.ndarray  # (N_min, N_min) STO-3G overlap
    sto3g_mo_energies: np.ndarray  # (N_min,) eV
    row_id: int
    d4_energy: float | None = None  # eV, the functional's D4 dispersion (None: the row lacks it)
    d4_forces: np.ndarray | None = None  # (n_atoms, 3) eV/Angstrom

    @property
    def n_min(self) -> int:
        """Number of minimal-basis functions (and of target orbitals)."""
        return len(self.mo_target)

    @property
    def homo_lumo_gap(self) -> float:
        """Large-basis HOMO-LUMO gap, eV."""
        return float(self.mo_target[self.nocc] - self.mo_target[self.nocc - 1])

    def to_atoms(self) -> Atoms:
        """The geometry as ASE Atoms (no calculator)."""
        return Atoms(numbers=self.numbers, positions=self.positions)


def read_frames(db_path: str | os.PathLike, validate: bool = True, **selection) -> list[ReferenceFrame]:
    """All rows of ``db_path`` matching ``selection`` (``ase.db`` select keywords).

    ``validate`` checks each row against the schema first
    (:func:`ase_mlham.data.schema.validate_row`). Frames come ordered by
    molecule, then frame index.
    """
    from ase.db import connect

    path = Path(db_path)
    if not path.is_file():
        raise FileNotFoundError(f"reference database {str(path)!r} does not exist")
    frames = []
    for row in connect(str(path)).select(**selection):
        if validate:
            validate_row(row)
        n_min = n_basis_functions(row.numbers)
        frames.append(ReferenceFrame(
            molecule=row.molecule,
            frame=int(row.frame),
            numbers=np.asarray(row.numbers, dtype=int),
            positions=np.asarray(row.positions, dtype=float),
            energy=float(row.energy),
            forces=np.asarray(row.forces, dtype=float),
            nocc=int(row.nocc),
            mo_target=np.asarray(row.data["mo_energies"][:n_min], dtype=float),
            sto3g_fock=np.asarray(row.data["sto3g_fock"], dtype=float),
            sto3g_overlap=np.asarray(row.data["sto3g_overlap"], dtype=float),
            sto3g_mo_energies=np.asarray(row.data["sto3g_mo_energies"], dtype=float),
            row_id=int(row.id),
            d4_energy=float(row.data["d4_energy"]) if "d4_energy" in row.data else None,
            d4_forces=np.asarray(row.data["d4_forces"], dtype=float) if "d4_forces" in row.data else None,
        ))
    frames.sort(key=lambda f: (f.molecule, f.frame))
    return frames


def molecules_of(frames: Iterable[ReferenceFrame]) -> list[str]:
    """Sorted distinct molecule names."""
    return sorted({f.molecule for f in frames})


def largest_molecule(*frame_sets: Iterable[ReferenceFrame]) -> int | None:
    """The most atoms of any frame in ``frame_sets`` (None when they are all empty)."""
    sizes = [len(frame.numbers) for frames in frame_sets for frame in frames]
    return max(sizes) if sizes else None


def split_by_molecule(frames: Sequence[ReferenceFrame], test_molecules: Sequence[str] | None = None,
                      test_fraction: float = 0.2, seed: int = 0
                      ) -> tuple[list[ReferenceFrame], list[ReferenceFrame]]:
    """(train, test): whole molecules held out.

    Either the names in ``test_molecules`` or a random ``test_fraction`` of the
    molecules (at least one) chosen with ``seed``.
    """
    names = molecules_of(frames)
    if test_molecules is None:
        _check_fraction(test_fraction)
        order = np.random.default_rng(seed).permutation(len(names))
        n_test = max(1, int(round(test_fraction * len(names))))
        test = {names[i] for i in order[:n_test]}
    else:
        unknown = sorted(set(test_molecules) - set(names))
        if unknown:
            raise ValueError(f"test_molecules {unknown} are not in the frames (have {names})")
        test = set(test_molecules)
    return [f for f in frames if f.molecule not in test], [f for f in frames if f.molecule in test]


def split_by_frame(frames: Sequence[ReferenceFrame], test_fraction: float = 0.2, seed: int = 0
                   ) -> tuple[list[ReferenceFrame], list[ReferenceFrame]]:
    """(train, test): a random ``test_fraction`` of each molecule's frames held out.

    Stratified per molecule so every molecule with two or more frames has
    frames on both sides. Each molecule's draw is seeded by ``seed`` and its
    name, so adding molecules (more data) leaves the others' splits unchanged.
    """
    _check_fraction(test_fraction)
    test_ids = set()
    for name in molecules_of(frames):
        rng = np.random.default_rng([seed, zlib.crc32(name.encode())])
        own = [f for f in frames if f.molecule == name]
        n_test = int(round(test_fraction * len(own)))
        if len(own) > 1:
            n_test = min(max(n_test, 1), len(own) - 1)
        test_ids.update(id(own[i]) for i in rng.permutation(len(own))[:n_test])
    return [f for f in frames if id(f) not in test_ids], [f for f in frames if id(f) in test_ids]


def _check_fraction(test_fraction: float) -> None:
    if not 0 < test_fraction < 1:
        raise ValueError(f"test_fraction must be between 0 and 1 (exclusive), got {test_fraction}")
