"""PySCF reference runner: reproduces the shared data, refuses non-converged SCF."""

import numpy as np
import pytest
from ase.build import molecule
from ase.db import connect

from ase_mlham.data.reference import ReferenceSettings, SCFNotConvergedError, compute_reference


def test_recomputed_water_frame_matches_shared_database(g2_db):
    # A thermal (non-equilibrium) water frame of the shared pool, at its stored geometry.
    row = connect(str(g2_db)).get(molecule="H2O", frame=5)
    result = compute_reference(row.toatoms())
    assert abs(result.energy - row.energy) < 1e-4
    assert np.abs(result.forces - row.forces).max() < 1e-3
    assert np.abs(result.data["mo_energies"] - row.data["mo_energies"]).max() < 1e-3
    assert np.abs(result.data["sto3g_fock"] - row.data["sto3g_fock"]).max() < 1e-3
    assert np.abs(result.data["sto3g_overlap"] - row.data["sto3g_overlap"]).max() < 1e-8
    assert abs(result.data["sto3g_energy"] - row.data["sto3g_energy"]) < 1e-4
    assert np.abs(result.data["dipole"] - row.data["dipole"]).max() < 1e-4
    assert result.data["sto3g_ao_labels"] == list(row.data["sto3g_ao_labels"])
    assert result.nocc == row.nocc


def test_result_units_and_shapes():
    atoms = molecule("H2O")
    result = compute_reference(atoms, ReferenceSettings(basis="sto-3g", density_fit=False))
    # With the large basis equal to the minimal one, both calculations agree.
    assert np.allclose(result.data["mo_energies"], result.data["sto3g_mo_energies"], atol=1e-5)
    assert abs(result.energy - result.data["sto3g_energy"]) < 1e-5
    # eV and eV/Angstrom: water's total energy is about -75 Hartree.
    assert -75.5 * 27.2114 < result.energy < -74.5 * 27.2114
    assert result.forces.shape == (3, 3)
    assert np.abs(result.forces.sum(axis=0)).max() < 1e-3  # no net force
    fock = result.data["sto3g_fock"]
    assert fock.shape == (7, 7) and np.allclose(fock, fock.T)


def test_non_converged_scf_raises():
    with pytest.raises(SCFNotConvergedError, match="did not converge"):
        compute_reference(molecule("H2O"), ReferenceSettings(basis="sto-3g", density_fit=False, max_cycle=1))
