"""PySCF reference calculations: large-basis DFT plus the minimal-basis Fock matrix.

One call of :func:`compute_reference` produces everything a database row of
``shared/DATA.md`` holds. The recipe is the one the shared data were made with:

* large basis (default B3LYP/def2-TZVP): ``dft.RKS(mol).density_fit()``,
  ``conv_tol=1e-9``, default grids, forces from ``nuc_grad_method()``; the
  second-order (Newton) solver when the first SCF does not converge;
* minimal basis (STO-3G): ``dft.RKS(mol)``, ``conv_tol=1e-10``, the Kohn-Sham
  matrix ``get_fock()`` of the converged density;
* the functional's D4 dispersion energy and forces (``dftd4``; see
  :mod:`ase_mlham.data.dispersion`), so that energy models can target B3LYP-D4;
* optionally (``ReferenceSettings.excitations = N > 0``) the lowest ``N`` singlet
  excitations of both calculations by the Tamm-Dancoff approximation of
  linear-response TDDFT (PySCF ``tdscf.TDA``, same functional, no further
  approximation: the large-basis one uses the density-fitted ground state):
  energies in eV and length-gauge oscillator strengths (see
  :func:`compute_excitations`; the ``row.data`` keys are listed in
  :mod:`ase_mlham.data.schema`).

A calculation that does not converge raises :class:`SCFNotConvergedError`
(:class:`TDANotConvergedError` for the excited states); it is never returned
as if it were good.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
from ase import Atoms

from ase_mlham.data.dispersion import d4_dispersion
from ase_mlham.options import setting
from ase_mlham.units import HARTREE_PER_BOHR_TO_EV_PER_ANGSTROM, HARTREE_TO_EV


#: The minimal basis whose Fock matrix is stored (``sto3g_*`` keys); fixed by the model.
MINIMAL_BASIS = "sto-3g"


class SCFNotConvergedError(RuntimeError):
    """The self-consistent field did not converge; the frame must be left out."""


class TDANotConvergedError(SCFNotConvergedError):
    """The Davidson solver of the TDA excitations did not converge; the frame must be left out."""


@dataclass(frozen=True)
class ReferenceSettings:
    """What a reference row is computed with (stored as the row's ``xc``/``basis`` keys); the fields with
    help are options of ``mlham generate`` (:mod:`ase_mlham.options`)."""

    xc: str = setting("b3lyp", "exchange-correlation functional (PySCF name)")
    basis: str = setting("def2-tzvp", "large basis set (PySCF name)")
    density_fit: bool = setting(True, "exact Coulomb/exchange instead of density fitting for the large basis",
                                flag="--no-density-fit")
    conv_tol: float = setting(1e-9, "SCF energy convergence threshold of the large-basis calculation, Hartree")
    minimal_conv_tol: float = 1e-10
    max_cycle: int = 50  # SCF iterations per solver (PySCF's default)
    max_memory_mb: int = setting(4000, "PySCF memory limit per process, MB", flag="--max-memory")
    excitations: int = setting(
        0, "also compute the lowest N singlet excitations (TDA, energies in eV and oscillator strengths) with "
           "the large basis and with STO-3G into row.data (tda_*, sto3g_tda_*); 0: none. Frames already in the "
           "database are not recomputed", metavar="N")

    def __post_init__(self) -> None:
        if (not isinstance(self.excitations, (int, np.integer)) or isinstance(self.excitations, bool)
                or self.excitations < 0):
            raise ValueError(f"excitations must be 0 or more, got {self.excitations!r}")
        for name in ("conv_tol", "minimal_conv_tol"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)!r}")


@dataclass
class ReferenceResult:
    """One frame's reference: energies in eV, forces in eV/Angstrom, dipole in Debye."""

    energy: float
    forces: np.ndarray  # (n_atoms, 3)
    nocc: int
    seconds: float
    data: dict = field(default_factory=dict)  # row.data of DATA.md


def _build_mol(atoms: Atoms, basis: str, max_memory_mb: int):
    from pyscf import gto

    return gto.M(
        atom=[(symbol, tuple(position)) for symbol, position in zip(atoms.get_chemical_symbols(),
                                                                     atoms.get_positions())],
        basis=basis,
        unit="Angstrom",
        charge=0,
        spin=0,
        verbose=0,
        max_memory=max_memory_mb,
    )


def _converged_rks(mol, xc: str, conv_tol: float, density_fit: bool, max_cycle: int, label: str):
    from pyscf import dft

    mf = dft.RKS(mol)
    if density_fit:
        mf = mf.density_fit()
    mf.xc = xc
    mf.conv_tol = conv_tol
    mf.max_cycle = max_cycle
    mf.kernel()
    if not mf.converged:
        # Second-order solver from the unconverged density, as the shared data did.
        newton = mf.newton()
        newton.kernel(dm0=mf.make_rdm1())
        if not newton.converged:
            raise SCFNotConvergedError(f"{label}: SCF did not converge (also with the Newton solver)")
        mf = newton
    return mf


def minimal_basis_scf(atoms: Atoms, xc: str = "b3lyp", conv_tol: float = 1e-10, max_memory_mb: int = 2000):
    """The converged PySCF ``RKS`` of ``atoms`` in the minimal basis (the ``sto3g_*`` recipe), for reuse
    by benchmarks: ``get_fock()``, ``get_ovlp()``, and :func:`compute_excitations` of it."""
    return _converged_rks(_build_mol(atoms, MINIMAL_BASIS, max_memory_mb), xc, conv_tol, False, 50,
                          f"{xc}/{MINIMAL_BASIS}")


def compute_excitations(mf, n_states: int, label: str, max_cycle: int = 200) -> tuple[np.ndarray, np.ndarray]:
    """Lowest ``n_states`` singlet TDA excitations of a converged closed-shell SCF ``mf``.

    At most ``nocc * nvirt`` states exist (a minimal basis of a small molecule
    has few); fewer than ``n_states`` are returned then. Raises
    :class:`TDANotConvergedError` when a root is not converged, also after a
    retry with more Davidson iterations and three extra roots (a larger search
    space that often rescues a root stuck near a degeneracy).

    Returns
    -------
    energies : ``(n,)`` eV, ascending.
    oscillator_strengths : ``(n,)`` dimensionless, length gauge.
    """
    from pyscf import tdscf

    n_occupied = int(np.count_nonzero(mf.mo_occ > 0))
    n_available = n_occupied * (len(mf.mo_occ) - n_occupied)
    n_states = min(int(n_states), n_available)
    for attempt in range(2):
        td = tdscf.TDA(mf)
        td.singlet = True
        td.nstates = min(n_states + 3 * attempt, n_available)
        td.max_cycle = max_cycle * (attempt + 1)
        td.verbose = 0
        td.kernel()
        converged = np.atleast_1d(np.asarray(td.converged, dtype=bool))[:n_states]
        if converged.all():
            energies = np.asarray(td.e, dtype=float)[:n_states] * HARTREE_TO_EV
            strengths = np.asarray(td.oscillator_strength(gauge="length"), dtype=float)[:n_states]
            return energies, strengths
    raise TDANotConvergedError(f"{label}: TDA did not converge for roots {np.flatnonzero(~converged).tolist()}")


def compute_reference(atoms: Atoms, settings: ReferenceSettings = ReferenceSettings()) -> ReferenceResult:
    """Large-basis energy, forces, MO energies, dipole and the minimal-basis Fock matrix.

    With ``settings.excitations > 0`` also the TDA excitations of both bases
    (``tda_*`` and ``sto3g_tda_*`` entries of ``data``). ``atoms`` must be a
    closed-shell neutral molecule (see :func:`ase_mlham.data.molecules.check_molecule`).
    Raises :class:`SCFNotConvergedError` when either SCF (or a TDA calculation)
    fails to converge.
    """
    start = time.perf_counter()
    mol = _build_mol(atoms, settings.basis, settings.max_memory_mb)
    mf = _converged_rks(mol, settings.xc, settings.conv_tol, settings.density_fit,
                        settings.max_cycle, f"{settings.xc}/{settings.basis}")
    energy = float(mf.e_tot) * HARTREE_TO_EV
    gradient = mf.nuc_grad_method().kernel()
    forces = -np.asarray(gradient) * HARTREE_PER_BOHR_TO_EV_PER_ANGSTROM
    mo_energies = np.sort(np.asarray(mf.mo_energy)) * HARTREE_TO_EV
    dipole = np.asarray(mf.dip_moment(unit="Debye", verbose=0), dtype=float)

    mol_min = _build_mol(atoms, MINIMAL_BASIS, settings.max_memory_mb)
    mf_min = _converged_rks(mol_min, settings.xc, settings.minimal_conv_tol, False,
                            settings.max_cycle, f"{settings.xc}/{MINIMAL_BASIS}")
    fock = np.asarray(mf_min.get_fock(dm=mf_min.make_rdm1())) * HARTREE_TO_EV
    data = {
        "mo_energies": mo_energies,
        "dipole": dipole,
        "sto3g_fock": fock,
        "sto3g_overlap": np.asarray(mf_min.get_ovlp()),
        "sto3g_mo_energies": np.sort(np.asarray(mf_min.mo_energy)) * HARTREE_TO_EV,
        "sto3g_energy": float(mf_min.e_tot) * HARTREE_TO_EV,
        "sto3g_ao_labels": list(mol_min.ao_labels()),
    }
    data["d4_energy"], data["d4_forces"] = d4_dispersion(atoms, settings.xc)
    if settings.excitations:
        data["tda_energies"], data["tda_oscillator_strengths"] = compute_excitations(
            mf, settings.excitations, f"TDA-{settings.xc}/{settings.basis}")
        data["sto3g_tda_energies"], data["sto3g_tda_oscillator_strengths"] = compute_excitations(
            mf_min, settings.excitations, f"TDA-{settings.xc}/{MINIMAL_BASIS}")
    return ReferenceResult(
        energy=energy,
        forces=forces,
        nocc=mol.nelectron // 2,
        seconds=time.perf_counter() - start,
        data=data,
    )
