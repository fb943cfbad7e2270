"""Physics-only baselines of :mod:`ase_mlham.baselines`: STO-3G eigenvalues and GFN2-xTB."""

import numpy as np
import pytest
from ase.build import molecule

from ase_mlham.baselines import (
    align_xtb_to_window,
    sto3g_orbital_energies,
    xtb_orbital_energies,
    xtb_window,
)
from ase_mlham.metrics import ErrorAccumulator


@pytest.fixture(scope="module")
def water_xtb():
    water = molecule("H2O")
    return xtb_orbital_energies(water.numbers, water.positions)


def test_xtb_water_valence_orbitals(water_xtb):
    energies, nocc = water_xtb
    assert energies.shape == (6,)  # O 2s 2p + 2 x H 1s: valence only
    assert nocc == 4  # 8 valence electrons
    assert np.all(np.diff(energies) >= 0)
    assert -15.0 < energies[nocc - 1] < -8.0  # HOMO in eV, not Hartree
    assert energies[nocc] - energies[nocc - 1] > 5.0


def test_align_xtb_water(water_xtb):
    energies, nocc = water_xtb
    aligned = align_xtb_to_window(energies, nocc, [8, 1, 1], nocc=5, n_min=7)
    assert aligned.shape == (7,)
    assert np.isnan(aligned[0])  # no core orbital in xTB
    np.testing.assert_allclose(aligned[1:], energies)


def test_align_matches_from_homo_down_and_lumo_up():
    # xTB with one occupied and one virtual fewer than the reference window
    xtb = np.array([-15.0, -12.0, 1.0])
    aligned = align_xtb_to_window(xtb, 2, [8, 1, 1], nocc=5, n_min=7)
    np.testing.assert_array_equal(np.isnan(aligned), [True, True, True, False, False, False, True])
    np.testing.assert_allclose(aligned[3:6], [-15.0, -12.0, 1.0])
    with pytest.raises(ValueError, match="xtb_nocc must be between"):
        align_xtb_to_window(xtb, 4, [8, 1, 1], nocc=5, n_min=7)


def test_xtb_rejects_unknown_method_and_bad_shapes():
    with pytest.raises(ValueError, match="method must be one of"):
        xtb_orbital_energies([1, 1], np.zeros((2, 3)), method="GFN3-xTB")
    with pytest.raises(ValueError, match="positions must have shape"):
        xtb_orbital_energies([1, 1], np.zeros((3, 3)))


def test_baselines_on_shared_frames(g2_db):
    from ase_mlham.data.dataset import read_frames

    frames = [f for f in read_frames(g2_db, molecule="H2O") + read_frames(g2_db, molecule="CH3CHO") if f.frame < 2]
    assert len(frames) == 4
    sto3g, xtb = ErrorAccumulator("B3LYP/STO-3G"), ErrorAccumulator("GFN2-xTB")
    for frame in frames:
        energies = sto3g_orbital_energies(frame)
        assert energies.shape == frame.mo_target.shape
        sto3g.add_orbitals(energies, frame.mo_target, frame.numbers, frame.nocc)
        aligned = xtb_window(frame)
        n_heavy = int(np.count_nonzero(frame.numbers > 1))
        assert np.isnan(aligned).sum() == n_heavy  # only the core is missing
        xtb.add_orbitals(aligned, frame.mo_target, frame.numbers, frame.nocc)
    sto3g_summary, xtb_summary = sto3g.summary(), xtb.summary()
    # minimal-basis physics misses by electronvolts: not zero, not a unit error
    assert 0.3 < sto3g_summary["gap"].mae < 10.0
    assert 0.3 < sto3g_summary["occupied_valence"].mae < 5.0
    assert 0.3 < xtb_summary["gap"].mae < 10.0
    assert 0.3 < xtb_summary["occupied_valence"].mae < 6.0
    assert xtb_summary["core"].count == 0 and xtb_summary["core"].mae is None


def test_sto3g_baseline_checks_length():
    from types import SimpleNamespace

    frame = SimpleNamespace(molecule="H2O", frame=0, sto3g_mo_energies=np.zeros(6), mo_target=np.zeros(7))
    with pytest.raises(ValueError, match="sto3g_mo_energies has shape"):
        sto3g_orbital_energies(frame)
