"""Dataset access: targets, splits, errors."""

import numpy as np
import pytest

from ase_mlham.data.dataset import molecules_of, read_frames, split_by_frame, split_by_molecule


@pytest.fixture(scope="module")
def frames(g2_db):
    return read_frames(g2_db)


def test_targets_are_the_lowest_n_min_orbitals(frames):
    assert len(frames) == 835
    water = next(f for f in frames if f.molecule == "H2O" and f.frame == 0)
    assert water.n_min == 7 and water.nocc == 5
    assert water.mo_target.shape == (7,) and water.sto3g_fock.shape == (7, 7)
    assert np.all(np.diff(water.mo_target) >= 0)
    # HOMO/LUMO of water in B3LYP/def2-TZVP (stored in the shared pool): -8.60 / 0.34 eV.
    assert water.homo_lumo_gap == pytest.approx(8.944, abs=1e-3)
    assert water.to_atoms().get_chemical_formula() == "H2O"


def test_selection_by_molecule(g2_db):
    selected = read_frames(g2_db, molecule="CH4")
    assert {f.molecule for f in selected} == {"CH4"} and [f.frame for f in selected] == sorted(f.frame for f in selected)


def test_split_by_frame_is_stratified_and_disjoint(frames):
    train, test = split_by_frame(frames, test_fraction=0.2, seed=1)
    assert len(train) + len(test) == len(frames)
    assert not {f.row_id for f in train} & {f.row_id for f in test}
    assert molecules_of(train) == molecules_of(test) == molecules_of(frames)
    again = split_by_frame(frames, test_fraction=0.2, seed=1)[1]
    assert [f.row_id for f in again] == [f.row_id for f in test]


def test_adding_molecules_leaves_the_other_splits_unchanged(frames):
    """More data (e.g. an active-learning round) must not reshuffle the held-out frames of the pool."""
    water = [f for f in frames if f.molecule == "H2O"]
    fewer = [f for f in frames if f.molecule not in ("CH4", "NH3")]
    test_all = {f.row_id for f in split_by_frame(frames, 0.2, seed=1)[1]}
    test_fewer = {f.row_id for f in split_by_frame(fewer, 0.2, seed=1)[1]}
    assert test_fewer == test_all - {f.row_id for f in frames if f.molecule in ("CH4", "NH3")}
    assert {f.row_id for f in split_by_frame(water, 0.2, seed=1)[1]} == test_all & {f.row_id for f in water}


def test_split_by_molecule(frames):
    train, test = split_by_molecule(frames, test_molecules=["H2O", "C6H6"])
    assert molecules_of(test) == ["C6H6", "H2O"]
    assert not set(molecules_of(train)) & set(molecules_of(test))
    train, test = split_by_molecule(frames, test_fraction=0.25, seed=0)
    assert len(molecules_of(test)) == 14
    with pytest.raises(ValueError, match="not in the frames"):
        split_by_molecule(frames, test_molecules=["benzene"])
    with pytest.raises(ValueError, match="test_fraction"):
        split_by_frame(frames, test_fraction=1.5)


def test_missing_database_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="nothing.db"):
        read_frames(tmp_path / "nothing.db")
    assert not (tmp_path / "nothing.db").exists()
