"""The STO-3G minimal basis: shell tables and atomic-orbital bookkeeping.

AO order per atom is PySCF's ``mol.ao_labels()`` order: shells in the order of
:data:`STO3G_SHELLS`, and within a p shell the Cartesian order (px, py, pz).
Real spherical harmonics in :mod:`ase_mlham.descriptors` order l=1 as
(y, z, x) (m = -1, 0, 1); :data:`P_CARTESIAN_TO_SPHERICAL` is the one place
that permutation is written down.

Exponents in Bohr^-2 and contraction coefficients (for normalised primitives)
are the published STO-3G values, identical to PySCF's ``sto-3g`` file.
"""

from __future__ import annotations

from typing import NamedTuple, Sequence

import numpy as np


class Shell(NamedTuple):
    """A contracted shell: principal label, angular momentum, primitives."""

    n: int
    l: int
    exponents: tuple[float, ...]  # Bohr^-2
    coefficients: tuple[float, ...]  # for normalised primitives


_CORE = (0.15432897, 0.53532814, 0.44463454)
_VALENCE_S = (-0.09996723, 0.39951283, 0.70011547)
_VALENCE_P = (0.15591627, 0.60768372, 0.39195739)


def _first_row(core: tuple[float, ...], valence: tuple[float, ...]) -> tuple[Shell, ...]:
    return (
        Shell(1, 0, core, _CORE),
        Shell(2, 0, valence, _VALENCE_S),
        Shell(2, 1, valence, _VALENCE_P),
    )


#: STO-3G shells per atomic number.
STO3G_SHELLS: dict[int, tuple[Shell, ...]] = {
    1: (Shell(1, 0, (3.42525091, 0.62391373, 0.1688554), _CORE),),
    6: _first_row((71.616837, 13.045096, 3.5305122), (2.9412494, 0.6834831, 0.2222899)),
    7: _first_row((99.106169, 18.052312, 4.8856602), (3.7804559, 0.8784966, 0.2857144)),
    8: _first_row((130.70932, 23.808861, 6.4436083), (5.0331513, 1.1695961, 0.380389)),
}

#: Atomic numbers the minimal basis (and hence every model) supports.
SUPPORTED_NUMBERS: tuple[int, ...] = tuple(sorted(STO3G_SHELLS))

#: Chemical symbols of :data:`SUPPORTED_NUMBERS`.
SUPPORTED_SYMBOLS: tuple[str, ...] = ("H", "C", "N", "O")

#: Index permutation taking a p block in PySCF order (x, y, z) to the real
#: spherical-harmonic order (y, z, x) of m = -1, 0, 1: ``p_sph = p_cart[P_CARTESIAN_TO_SPHERICAL]``.
P_CARTESIAN_TO_SPHERICAL: tuple[int, int, int] = (1, 2, 0)

_P_LABELS = ("px", "py", "pz")


def check_supported(numbers: Sequence[int]) -> None:
    """Raise ``ValueError`` naming every element the minimal basis lacks."""
    from ase.data import chemical_symbols

    unsupported = sorted({int(z) for z in numbers} - set(SUPPORTED_NUMBERS))
    if unsupported:
        names = ", ".join(chemical_symbols[z] if 0 < z < len(chemical_symbols) else str(z)
                          for z in unsupported)
        raise ValueError(
            f"unsupported element(s) {names}: the STO-3G minimal basis of ase-mlham "
            f"covers {', '.join(SUPPORTED_SYMBOLS)} only"
        )


def n_orbitals_per_atom(numbers: Sequence[int]) -> np.ndarray:
    """Number of minimal-basis functions of each atom, shape ``(n_atoms,)``."""
    check_supported(numbers)
    return np.array([sum(2 * s.l + 1 for s in STO3G_SHELLS[int(z)]) for z in numbers], dtype=int)


def n_basis_functions(numbers: Sequence[int]) -> int:
    """N_min: the number of STO-3G functions of a molecule (H 1, C/N/O 5)."""
    return int(n_orbitals_per_atom(numbers).sum())


def ao_slices(numbers: Sequence[int]) -> list[slice]:
    """Slice of each atom's functions in the molecular AO order."""
    offsets = np.concatenate([[0], np.cumsum(n_orbitals_per_atom(numbers))])
    return [slice(int(a), int(b)) for a, b in zip(offsets[:-1], offsets[1:])]


def ao_labels(numbers: Sequence[int]) -> list[str]:
    """AO labels formatted exactly like PySCF's ``mol.ao_labels()`` (e.g. ``'1 C 2px   '``)."""
    from ase.data import chemical_symbols

    check_supported(numbers)
    labels = []
    for atom, z in enumerate(numbers):
        symbol = chemical_symbols[int(z)]
        for shell in STO3G_SHELLS[int(z)]:
            names = ("s",) if shell.l == 0 else _P_LABELS
            labels.extend(f"{atom} {symbol} {shell.n}{name:<5}" for name in names)
    return labels


