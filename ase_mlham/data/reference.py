"""PySCF reference calculations: large-basis DFT plus the minimal-basis Fock matrix.

One call of :func:`compute_reference` produces everything a database row of
``shared/DATA.md`` holds. The recipe is the one the shared data were made with:

* large basis (default B3LYP/def2-TZVP): ``dft.RKS(mol).density_fit()``,
  ``conv_tol=1e-9``, default grids, forces from ``nuc_grad_method()``; the
  second-order (Newton) solver when the first SCF does not converge;
* minimal basis (STO-3G): ``dft.RKS(mol)``, ``conv_tol=1e-10``, the Kohn-Sham
  matrix ``get_fock()`` of the converged density.

A calculation that does not converge raises :class:`SCFNotConvergedError`; it
is never returned as if it were good.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
from ase import Atoms

from ase_mlham.units import HARTREE_PER_BOHR_TO_EV_PER_ANGSTROM, HARTREE_TO_EV


#: The minimal basis whose Fock matrix is stored (``sto3g_*`` keys); fixed by the model.
MINIMAL_BASIS = "sto-3g"


class SCFNotConvergedError(RuntimeError):
    """The self-consistent field did not converge; the frame must be left out."""


@dataclass(frozen=True)
class ReferenceSettings:
    """What a reference row is computed with (stored as the row's ``xc``/``basis`` keys)."""

    xc: str = "b3lyp"
    basis: str = "def2-tzvp"
    density_fit: bool = True
    conv_tol: float = 1e-9
    minimal_conv_tol: float = 1e-10
    max_cycle: int = 50  # SCF iterations per solver (PySCF's default)
    max_memory_mb: int = 4000


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


def compute_reference(atoms: Atoms, settings: ReferenceSettings = ReferenceSettings()) -> ReferenceResult:
    """Large-basis energy, forces, MO energies, dipole and the minimal-basis Fock matrix.

    ``atoms`` must be a closed-shell neutral molecule (see
    :func:`ase_mlham.data.molecules.check_molecule`). Raises
    :class:`SCFNotConvergedError` when either SCF fails to converge.
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
    return ReferenceResult(
        energy=energy,
        forces=forces,
        nocc=mol.nelectron // 2,
        seconds=time.perf_counter() - start,
        data=data,
    )
