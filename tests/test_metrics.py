"""Orbital groups, error statistics, tables and parity plots of :mod:`ase_mlham.metrics`."""

import json
import math

import numpy as np
import pytest

from ase_mlham.metrics import (
    ALL_GROUPS,
    ErrorAccumulator,
    ErrorStats,
    error_statistics,
    format_table,
    orbital_groups,
    parity_plot,
    table_dict,
)

WATER = [8, 1, 1]  # n_min 7, nocc 5
METHANE = [6, 1, 1, 1, 1]  # n_min 9, nocc 5
ACETALDEHYDE = [6, 6, 8, 1, 1, 1, 1]  # CH3CHO: n_min 19, nocc 12


def test_groups_water():
    groups = orbital_groups(WATER, nocc=5)
    assert groups.n_min == 7 and groups.n_core == 1
    np.testing.assert_array_equal(groups.core, [0])
    np.testing.assert_array_equal(groups.occupied_valence, [1, 2, 3, 4])
    np.testing.assert_array_equal(groups.virtual, [5, 6])
    assert groups.homo == 4 and groups.lumo == 5
    np.testing.assert_array_equal(groups.window, np.arange(7))
    np.testing.assert_array_equal(groups.mask("homo"), [0, 0, 0, 0, 1, 0, 0])
    assert list(groups.labels()) == ["core"] + ["occupied_valence"] * 4 + ["virtual"] * 2


def test_groups_acetaldehyde():
    groups = orbital_groups(ACETALDEHYDE, nocc=12)
    assert groups.n_min == 19
    np.testing.assert_array_equal(groups.core, [0, 1, 2])
    np.testing.assert_array_equal(groups.occupied_valence, np.arange(3, 12))
    np.testing.assert_array_equal(groups.virtual, np.arange(12, 19))
    assert (groups.homo, groups.lumo) == (11, 12)


def test_groups_without_virtuals_have_no_lumo():
    groups = orbital_groups([1, 1], nocc=2, n_min=2)
    assert groups.lumo is None and groups.indices("lumo").size == 0


def test_groups_reject_bad_nocc():
    with pytest.raises(ValueError, match="nocc must satisfy"):
        orbital_groups(WATER, nocc=8)
    with pytest.raises(ValueError, match="nocc must satisfy"):
        orbital_groups(WATER, nocc=1)  # only the core would be occupied
    with pytest.raises(ValueError, match="group must be one of"):
        orbital_groups(WATER, nocc=5).indices("gap")


def test_error_statistics_known_values_and_nan():
    stats = error_statistics(np.array([1.0, -2.0, np.nan, 3.0]))
    assert stats.count == 3
    assert stats.mae == pytest.approx(2.0)
    assert stats.rmse == pytest.approx(math.sqrt(14.0 / 3.0))
    assert stats.max == pytest.approx(3.0)
    empty = error_statistics([np.nan, np.nan])
    assert empty == ErrorStats(None, None, None, 0) and not empty.available
    assert error_statistics([0.001], scale=1000.0).mae == pytest.approx(1.0)


def test_accumulator_frames_of_different_lengths():
    reference_water = np.array([-520.0, -27.0, -14.0, -10.0, -8.0, 0.5, 2.0])
    reference_methane = np.array([-276.0, -19.0, -10.7, -10.7, -10.7, 1.3, 3.3, 3.3, 3.3])
    offsets_water = np.array([4.0, 1.0, -1.0, 1.0, 2.0, 3.0, -3.0])
    offsets_methane = np.array([np.nan, 1.0, 1.0, 1.0, 1.0, -1.0, 1.0, 1.0, 1.0])
    accumulator = ErrorAccumulator("test")
    accumulator.add_orbitals(reference_water + offsets_water, reference_water, WATER, 5)
    accumulator.add_orbitals(reference_methane + offsets_methane, reference_methane, METHANE, 5)
    summary = accumulator.summary()
    assert accumulator.n_frames == 2
    # core: water 4, methane missing (NaN)
    assert summary["core"] == ErrorStats(4.0, 4.0, 4.0, 1)
    # occupied valence: water 1 -1 1 2, methane 1 1 1 1
    assert summary["occupied_valence"].count == 8
    assert summary["occupied_valence"].mae == pytest.approx(9.0 / 8.0)
    assert summary["occupied_valence"].rmse == pytest.approx(math.sqrt(11.0 / 8.0))
    assert summary["occupied_valence"].max == pytest.approx(2.0)
    # virtuals are not truncated to the shorter frame: 2 + 4
    assert summary["virtual"].count == 6
    assert summary["virtual"].mae == pytest.approx((3 + 3 + 1 + 1 + 1 + 1) / 6)
    assert summary["homo"].mae == pytest.approx(1.5) and summary["homo"].count == 2
    assert summary["lumo"].mae == pytest.approx(2.0) and summary["lumo"].max == pytest.approx(3.0)
    # gap error = LUMO error - HOMO error: water 3 - 2 = 1, methane -1 - 1 = -2
    assert summary["gap"].mae == pytest.approx(1.5)
    assert summary["gap"].rmse == pytest.approx(math.sqrt(2.5))
    assert summary["gap"].max == pytest.approx(2.0)
    assert summary["window"].count == 7 + 8
    assert summary["energy"].count == 0 and summary["energy"].mae is None
    predicted, reference, labels = accumulator.orbital_pairs()
    assert predicted.shape == reference.shape == labels.shape == (16,)


def test_accumulator_energy_and_forces():
    accumulator = ErrorAccumulator()
    accumulator.add_energy(-100.3, -100.0, n_atoms=3)  # -0.3 eV, -100 meV/atom
    accumulator.add_energy(-50.0, -50.2, n_atoms=5)  # +0.2 eV, +40 meV/atom
    accumulator.add_energy(None, -10.0, n_atoms=2)  # not available
    accumulator.add_energy(float("nan"), -10.0, n_atoms=2)
    reference_forces = np.zeros((2, 3))
    accumulator.add_forces(np.array([[0.1, 0.0, 0.0], [0.0, -0.2, 0.0]]), reference_forces)
    accumulator.add_forces(None, reference_forces)
    summary = accumulator.summary()
    assert summary["energy"].count == 2
    assert summary["energy"].mae == pytest.approx(0.25)
    assert summary["energy"].max == pytest.approx(0.3)
    assert summary["energy_per_atom"].mae == pytest.approx(70.0)
    assert summary["energy_per_atom"].rmse == pytest.approx(math.sqrt((100.0**2 + 40.0**2) / 2))
    assert summary["forces"].count == 6
    assert summary["forces"].mae == pytest.approx(0.05)
    assert summary["forces"].max == pytest.approx(0.2)
    with pytest.raises(ValueError, match="predicted forces must have shape"):
        accumulator.add_forces(np.zeros((3, 3)), reference_forces)


def test_accumulator_rejects_mismatched_lengths():
    with pytest.raises(ValueError, match="equal length"):
        ErrorAccumulator().add_orbitals(np.zeros(6), np.zeros(7), WATER, 5)


def _two_methods():
    reference = np.array([-520.0, -27.0, -14.0, -10.0, -8.0, 0.5, 2.0])
    model = ErrorAccumulator("model")
    model.add_orbitals(reference + 0.125, reference, WATER, 5)
    model.add_energy(-10.5, -10.0, n_atoms=3)
    xtb = ErrorAccumulator("GFN2-xTB")
    shifted = reference + 2.5
    shifted[0] = np.nan
    xtb.add_orbitals(shifted, reference, WATER, 5)
    return {"model": model, "GFN2-xTB": xtb}


def test_format_table_holds_numbers_units_and_na():
    text = format_table(_two_methods(), title="water")
    lines = text.splitlines()
    assert lines[0] == "water"
    assert "model" in lines[1] and "GFN2-xTB" in lines[1]
    assert "MAE" in lines[2] and "RMSE" in lines[2] and "MAX" in lines[2]
    core = next(line for line in lines if line.startswith("core"))
    assert "0.125" in core and "n/a" in core
    homo = next(line for line in lines if line.startswith("HOMO "))
    assert "0.125" in homo and "2.500" in homo
    per_atom = next(line for line in lines if line.startswith("energy per atom"))
    assert "meV/atom" in per_atom and "166.667" in per_atom
    assert "eV/A" in text
    assert len([line for line in lines if line and not line.startswith(("-", " ", "group", "water"))]) == len(ALL_GROUPS)


def test_table_dict_is_json_serialisable():
    data = table_dict(_two_methods())
    round_trip = json.loads(json.dumps(data))
    assert round_trip["units"]["energy_per_atom"] == "meV/atom"
    assert round_trip["methods"]["GFN2-xTB"]["core"] == {"mae": None, "rmse": None, "max": None, "count": 0}
    assert round_trip["methods"]["model"]["gap"]["mae"] == pytest.approx(0.0)
    assert round_trip["methods"]["GFN2-xTB"]["window"]["count"] == 6


def test_parity_plot_writes_png(tmp_path):
    path = tmp_path / "parity.png"
    parity_plot(_two_methods(), path, title="water")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
