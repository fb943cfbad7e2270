"""Starting structures: G2 names, files, SMILES, and the input checks."""

import numpy as np
import pytest
from ase import Atoms
from ase.build import molecule
from ase.io import write

from ase_mlham.data.molecules import check_molecule, resolve_structure


def test_g2_name():
    structure = resolve_structure("H2O")
    assert structure.name == "H2O" and structure.smiles is None
    assert structure.atoms.get_chemical_formula() == "H2O"


@pytest.mark.parametrize("spec", ["benzene", "Benzene"])
def test_everyday_name_of_a_g2_molecule(spec):
    structure = resolve_structure(spec)
    assert structure.name == spec
    assert np.allclose(structure.atoms.positions, molecule("C6H6").positions)


def test_everyday_names_point_into_g2():
    from ase.collections import g2

    from ase_mlham.data.molecules import COMMON_NAMES

    assert set(COMMON_NAMES.values()) <= set(g2.names)
    assert all(name == name.lower() for name in COMMON_NAMES)


def test_xyz_file_name_is_stem(tmp_path):
    path = tmp_path / "ethanol.xyz"
    write(path, molecule("CH3CH2OH"))
    structure = resolve_structure(str(path))
    assert structure.name == "ethanol"
    assert len(structure.atoms) == 9 and not structure.atoms.pbc.any()


def test_smiles():
    pytest.importorskip("rdkit")
    structure = resolve_structure("C=CC=C", seed=1)
    assert structure.smiles == "C=CC=C"
    assert structure.atoms.get_chemical_formula() == "C4H6"
    forced = resolve_structure("smiles:O", name="water")
    assert forced.name == "water" and forced.atoms.get_chemical_formula() == "H2O"


def test_unknown_name():
    with pytest.raises(ValueError, match="unknown molecule 'unobtainium'"):
        resolve_structure("unobtainium")


def test_a_missing_structure_file_is_reported_as_missing_not_as_a_smiles(tmp_path):
    for spec in (str(tmp_path / "aspirin.xyz"), "missing.xyz", str(tmp_path / "no-suffix")):
        with pytest.raises(FileNotFoundError, match=f"structure file '{spec}' does not exist"):
            resolve_structure(spec)


def test_smiles_with_bond_stereo_is_not_taken_for_a_path():
    pytest.importorskip("rdkit")
    assert resolve_structure("C/C=C/C", seed=1).atoms.get_chemical_formula() == "C4H8"


@pytest.mark.parametrize(
    "atoms, message",
    [
        (Atoms(), "no atoms"),
        (Atoms("H2", positions=[[0, 0, 0], [np.nan, 0, 0]]), "NaN"),
        (Atoms("H2", positions=[[0, 0, 0], [0.74, 0, 0]], cell=[5, 5, 5], pbc=True), "periodic"),
        (Atoms("SiH4", positions=np.eye(5, 3) * 1.5), "unsupported element.*Si"),
        (molecule("CH3"), "odd electron count"),
        (molecule("O2"), "spin 2.0 requested"),  # G2's triplet carries initial magnetic moments
        (Atoms("H2", positions=[[0, 0, 0], [0.2, 0, 0]]), "0.200 A apart"),
    ],
)
def test_bad_molecules(atoms, message):
    with pytest.raises(ValueError, match=message):
        check_molecule(atoms)


def test_charge_and_spin_rejected():
    with pytest.raises(ValueError, match="charge 1 and spin 0"):
        check_molecule(molecule("H2O"), charge=1)


def test_a_structure_file_that_declares_a_charge_is_refused(tmp_path):
    """ASE's extxyz reader puts ``charge=1`` of the comment line into ``atoms.info``: a charged cation must
    not pass as a neutral molecule (the reference would silently be computed for the neutral one)."""
    path = tmp_path / "h3o.xyz"
    path.write_text("4\ncharge=1\nO 0 0 0\nH 0.96 0 0\nH -0.3 0.9 0\nH -0.3 -0.45 0.8\n")
    with pytest.raises(ValueError, match="h3o: charge 1 and spin 0 requested"):
        resolve_structure(str(path))
    path.write_text("3\nspin=2\nO 0 0 0\nH 0.96 0 0\nH -0.24 0.93 0\n")
    with pytest.raises(ValueError, match="charge 0 and spin 2 requested"):
        resolve_structure(str(path))


def test_molecule_pair_has_the_requested_gap_and_rigid_parts():
    from scipy.spatial.distance import cdist, pdist

    from ase_mlham.data.molecules import molecule_pair

    first, second = resolve_structure("CH3OH"), resolve_structure("NH3")
    pair = molecule_pair(first, second, 6.5, seed=3)
    assert pair.name == "CH3OH+NH3@6.5"
    n = len(first.atoms)
    assert list(pair.atoms.numbers) == list(first.atoms.numbers) + list(second.atoms.numbers)
    assert cdist(pair.atoms.positions[:n], pair.atoms.positions[n:]).min() == pytest.approx(6.5, abs=1e-8)
    # each molecule moved rigidly
    assert np.allclose(pdist(pair.atoms.positions[:n]), pdist(first.atoms.positions), atol=1e-12)
    assert np.allclose(pdist(pair.atoms.positions[n:]), pdist(second.atoms.positions), atol=1e-12)
    # reproducible from seed and name; another seed turns the pair another way
    assert np.array_equal(molecule_pair(first, second, 6.5, seed=3).atoms.positions, pair.atoms.positions)
    other = molecule_pair(first, second, 6.5, seed=4).atoms.positions
    assert not np.allclose(other, pair.atoms.positions)
    with pytest.raises(ValueError, match="gap must be a distance above 0.6 A"):
        molecule_pair(first, second, 0.3)


def test_molecule_list_in_file_order_and_by_split(tmp_path):
    from ase_mlham.data.molecules import read_molecule_list

    path = tmp_path / "m.smi"
    path.write_text("# comment\nCCO ethanol train alcohol\n\nC=O formaldehyde test aldehyde\nCC ethane\n")
    assert read_molecule_list(path) == [("CCO", "ethanol"), ("C=O", "formaldehyde"), ("CC", "ethane")]
    assert read_molecule_list(path, "test") == [("C=O", "formaldehyde")]


@pytest.mark.parametrize("text, split, message", [
    ("CCO\n", None, r"m.smi:1: expected 'SMILES name \[split ...\]'"),
    ("CCO a train\nCC a test\n", None, r"names used more than once: \['a'\]"),
    ("CCO a train\n", "test", r"no molecules in split 'test' \(splits: train\)"),
])
def test_bad_molecule_lists_are_named(tmp_path, text, split, message):
    from ase_mlham.data.molecules import read_molecule_list

    path = tmp_path / "m.smi"
    path.write_text(text)
    with pytest.raises(ValueError, match=message):
        read_molecule_list(path, split)
