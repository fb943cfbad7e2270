"""D4 dispersion of reference rows: the shared data's numbers, forces as gradients, back-filling old rows."""

import numpy as np
from ase.build import molecule
from ase.db import connect

from ase_mlham.data.dispersion import DISPERSION_KEYS, add_dispersion, d4_dispersion
from ase_mlham.data.schema import validate_row


def test_d4_reproduces_every_shared_larger_row(shared_data):
    for row in connect(str(shared_data / "larger-b3lyp-def2tzvp.db")).select():
        energy, forces = d4_dispersion(row.toatoms(), row.xc)
        assert abs(energy - row.data["d4_energy"]) < 1e-12
        assert np.abs(forces - row.data["d4_forces"]).max() < 1e-12


def test_d4_forces_are_minus_the_energy_gradient():
    atoms = molecule("CH3CH2OH")
    atoms.rattle(0.05, seed=1)
    _, forces = d4_dispersion(atoms)
    step = 1e-4
    for atom, axis in ((0, 0), (3, 2), (8, 1)):
        energies = []
        for sign in (1, -1):
            displaced = atoms.copy()
            displaced.positions[atom, axis] += sign * step
            energies.append(d4_dispersion(displaced)[0])
        assert abs(-(energies[0] - energies[1]) / (2 * step) - forces[atom, axis]) < 1e-7


def test_add_dispersion_fills_old_rows_once(g2_db, tmp_path):
    source = connect(str(g2_db))
    db = connect(str(tmp_path / "old.db"))
    for row in source.select(molecule="CH3OH", limit=3):
        data = {k: v for k, v in row.data.items() if k not in DISPERSION_KEYS}
        db.write(row.toatoms(), key_value_pairs=row.key_value_pairs, data=data)
    assert add_dispersion(tmp_path / "old.db") == (3, 0)
    for row in connect(str(tmp_path / "old.db")).select():
        validate_row(row)
        reference = source.get(molecule="CH3OH", frame=row.frame)
        assert abs(row.data["d4_energy"] - reference.data["d4_energy"]) < 1e-12
    assert add_dispersion(tmp_path / "old.db") == (0, 3)


def test_cli_names_a_missing_database(tmp_path, capsys):
    from ase_mlham.cli import main

    assert main(["dispersion", str(tmp_path / "nope.db")]) == 2
    assert f"mlham dispersion: error: database '{tmp_path / 'nope.db'}' does not exist" in capsys.readouterr().err
