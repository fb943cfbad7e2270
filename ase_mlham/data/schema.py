"""The reference-database row schema of ``shared/DATA.md``: writing and validating rows.

A row holds the atoms (no cell, ``pbc`` False), ``energy`` (eV) and ``forces``
(eV/Angstrom) of the large-basis calculation, the key-value pairs of
:data:`REQUIRED_KEYS` (plus ``smiles`` for molecules built from SMILES) and
the arrays of :data:`DATA_KEYS` in ``row.data``.

Rows written with ``mlham generate --excitations N`` (N > 0) carry, in addition,
the optional entries of :data:`OPTIONAL_DATA_KEYS` in ``row.data``; rows
without them stay valid, and a database may mix both kinds:

``tda_energies`` (eV), ``tda_oscillator_strengths`` (dimensionless, length gauge)
    the lowest ``N`` singlet excitations of the large-basis calculation
    (TDA-B3LYP/def2-TZVP by default: PySCF ``tdscf.TDA`` of the density-fitted
    ground state), ascending, shape ``(N,)`` each;
``sto3g_tda_energies`` (eV), ``sto3g_tda_oscillator_strengths``
    the same for TDA-B3LYP/STO-3G, shape ``(min(N, nocc * (N_min - nocc)),)``
    (a minimal basis of a small molecule has fewer excitations than ``N``).

Each pair comes together, energies and strengths of equal length.

Rows also carry the D4 dispersion of their functional, ``d4_energy`` (eV) and ``d4_forces``
(eV/Angstrom, ``(n_atoms, 3)``; :mod:`ase_mlham.data.dispersion`): every row ``mlham generate``
writes and every row of ``shared/data``. They are optional here, so databases written before them stay
valid (``mlham dispersion DB`` adds them); when present they must come together and be finite.
"""

from __future__ import annotations

import numpy as np
from ase import Atoms
from ase.calculators.singlepoint import SinglePointCalculator

from ase_mlham.basis import ao_labels, n_basis_functions
from ase_mlham.data.dispersion import DISPERSION_KEYS
from ase_mlham.data.reference import MINIMAL_BASIS, ReferenceResult, ReferenceSettings

#: Key-value pairs every row carries, with their Python types.
REQUIRED_KEYS: dict[str, type | tuple[type, ...]] = {
    "molecule": str,
    "frame": int,
    "md_temperature": (int, float),
    "nocc": int,
    "xc": str,
    "basis": str,
    "minimal_basis": str,
    "seconds": (int, float),
}

#: Optional key-value pairs.
OPTIONAL_KEYS: dict[str, type] = {"smiles": str}

#: Entries of ``row.data``.
DATA_KEYS = (
    "mo_energies",
    "dipole",
    "sto3g_fock",
    "sto3g_overlap",
    "sto3g_mo_energies",
    "sto3g_energy",
    "sto3g_ao_labels",
)


#: Optional entries of ``row.data`` (``mlham generate --excitations N``), in pairs
#: (energies in eV, oscillator strengths); see the module docstring.
OPTIONAL_DATA_KEYS = (
    "tda_energies",
    "tda_oscillator_strengths",
    "sto3g_tda_energies",
    "sto3g_tda_oscillator_strengths",
)


class SchemaError(ValueError):
    """A database row does not follow the schema of DATA.md."""


def write_reference_row(
    db,
    atoms: Atoms,
    result: ReferenceResult,
    molecule: str,
    frame: int,
    md_temperature: float,
    settings: ReferenceSettings,
    smiles: str | None = None,
) -> int:
    """Write one frame as one row (one SQLite transaction: all of it or nothing).

    Returns the row id.
    """
    system = Atoms(numbers=atoms.numbers, positions=atoms.get_positions(), pbc=False)
    system.calc = SinglePointCalculator(system, energy=result.energy, forces=result.forces)
    key_value_pairs = {
        "molecule": molecule,
        "frame": int(frame),
        "md_temperature": float(md_temperature),
        "nocc": int(result.nocc),
        "xc": settings.xc,
        "basis": settings.basis,
        "minimal_basis": MINIMAL_BASIS,
        "seconds": float(result.seconds),
    }
    if smiles is not None:
        key_value_pairs["smiles"] = smiles
    return db.write(system, key_value_pairs=key_value_pairs, data=result.data)


def validate_row(row) -> None:
    """Raise :class:`SchemaError` listing every way ``row`` (an ``ase.db`` row) breaks the schema."""
    problems = []
    numbers = np.asarray(row.numbers)
    n_atoms = len(numbers)
    if np.asarray(row.pbc).any():
        problems.append("pbc must be False")
    for key, types in {**REQUIRED_KEYS, **OPTIONAL_KEYS}.items():
        if key not in row.key_value_pairs:
            if key in REQUIRED_KEYS:
                problems.append(f"missing key {key!r}")
        elif not isinstance(row.key_value_pairs[key], types) or isinstance(row.key_value_pairs[key], bool):
            problems.append(f"key {key!r} has type {type(row.key_value_pairs[key]).__name__}")
    extra = set(row.key_value_pairs) - set(REQUIRED_KEYS) - set(OPTIONAL_KEYS)
    if extra:
        problems.append(f"unexpected keys {sorted(extra)}")
    energy = row.get("energy")
    if energy is None or not np.isfinite(energy):
        problems.append("energy missing or not finite")
    forces = row.get("forces")
    if forces is None or np.shape(forces) != (n_atoms, 3) or not np.all(np.isfinite(forces)):
        problems.append(f"forces must be a finite ({n_atoms}, 3) array")
    missing = [key for key in DATA_KEYS if key not in row.data]
    if missing:
        problems.append(f"missing data {missing}")
    else:
        problems.extend(_data_problems(row, numbers))
    if problems:
        raise SchemaError(f"row {row.id}: " + "; ".join(problems))


def _data_problems(row, numbers: np.ndarray) -> list[str]:
    problems = []
    data = row.data
    n_min = n_basis_functions(numbers)
    nocc = row.key_value_pairs.get("nocc")
    if nocc != int(numbers.sum()) // 2:
        problems.append(f"nocc {nocc} is not half the electron count {int(numbers.sum())}")
    mo_energies = np.asarray(data["mo_energies"])
    if mo_energies.ndim != 1 or len(mo_energies) < n_min or np.any(np.diff(mo_energies) < 0):
        problems.append(f"mo_energies must be an ascending vector of at least N_min={n_min} values")
    if np.shape(data["dipole"]) != (3,):
        problems.append("dipole must have shape (3,)")
    for key in ("sto3g_fock", "sto3g_overlap"):
        matrix = np.asarray(data[key])
        if matrix.shape != (n_min, n_min) or not np.allclose(matrix, matrix.T, atol=1e-8):
            problems.append(f"{key} must be a symmetric ({n_min}, {n_min}) matrix")
    if np.shape(data["sto3g_mo_energies"]) != (n_min,):
        problems.append(f"sto3g_mo_energies must have shape ({n_min},)")
    if not np.isfinite(data["sto3g_energy"]):
        problems.append("sto3g_energy is not finite")
    if [label for label in data["sto3g_ao_labels"]] != ao_labels(numbers):
        problems.append("sto3g_ao_labels differ from the STO-3G AO order of the atoms")
    problems.extend(_excitation_problems(data, n_min, int(nocc) if isinstance(nocc, int) else 0))
    problems.extend(_dispersion_problems(data, len(numbers)))
    return problems


def _dispersion_problems(data, n_atoms: int) -> list[str]:
    """Problems of the optional D4 entries: both or neither, a finite energy, finite (n_atoms, 3) forces."""
    present = [key in data for key in DISPERSION_KEYS]
    if not any(present):
        return []
    if not all(present):
        return [f"{' and '.join(DISPERSION_KEYS)} must come together"]
    problems = []
    if np.ndim(data["d4_energy"]) != 0 or not np.isfinite(data["d4_energy"]):
        problems.append("d4_energy must be a finite number (eV)")
    forces = np.asarray(data["d4_forces"])
    if forces.shape != (n_atoms, 3) or not np.all(np.isfinite(forces)):
        problems.append(f"d4_forces must be a finite ({n_atoms}, 3) array (eV/A)")
    return problems


def _excitation_problems(data, n_min: int, nocc: int) -> list[str]:
    """Problems of the optional TDA entries: pairs present together, ascending, finite, f >= 0."""
    problems = []
    for prefix in ("tda", "sto3g_tda"):
        energies_key, strengths_key = f"{prefix}_energies", f"{prefix}_oscillator_strengths"
        present = [key in data for key in (energies_key, strengths_key)]
        if not any(present):
            continue
        if not all(present):
            problems.append(f"{energies_key} and {strengths_key} must come together")
            continue
        energies, strengths = np.asarray(data[energies_key]), np.asarray(data[strengths_key])
        if energies.ndim != 1 or energies.shape != strengths.shape or len(energies) == 0:
            problems.append(f"{energies_key} and {strengths_key} must be non-empty vectors of equal length")
            continue
        if not (np.all(np.isfinite(energies)) and np.all(energies > 0) and np.all(np.diff(energies) >= -1e-8)):
            problems.append(f"{energies_key} must be positive, finite and ascending (eV)")
        if not (np.all(np.isfinite(strengths)) and np.all(strengths >= -1e-10)):
            problems.append(f"{strengths_key} must be finite and non-negative")
        if prefix == "sto3g_tda" and len(energies) > nocc * (n_min - nocc):
            problems.append(f"{energies_key} has {len(energies)} states, more than the "
                            f"{nocc * (n_min - nocc)} single excitations of the minimal basis")
    return problems
