"""The DATA.md row schema: the shared databases validate, broken rows do not."""

import numpy as np
import pytest
from ase.db import connect

from ase_mlham.data.dispersion import DISPERSION_KEYS
from ase_mlham.data.reference import ReferenceResult, ReferenceSettings
from ase_mlham.data.schema import (DATA_KEYS, OPTIONAL_DATA_KEYS, REQUIRED_KEYS, SchemaError, validate_row,
                                   write_reference_row)


def test_shared_databases_follow_the_schema(shared_data):
    for name in ("g2-b3lyp-def2tzvp.db", "larger-b3lyp-def2tzvp.db"):
        for row in connect(str(shared_data / name)).select():
            validate_row(row)


def test_written_row_has_exactly_the_schema_keys(g2_db, tmp_path):
    shared_row = connect(str(g2_db)).get(molecule="H2O", frame=0)
    result = ReferenceResult(energy=shared_row.energy, forces=shared_row.forces, nocc=shared_row.nocc,
                             seconds=1.0, data=dict(shared_row.data))
    db = connect(str(tmp_path / "copy.db"))
    row_id = write_reference_row(db, shared_row.toatoms(), result, "H2O", 0, 300.0, ReferenceSettings())
    row = db.get(id=row_id)
    validate_row(row)
    assert set(row.key_value_pairs) == set(shared_row.key_value_pairs) == set(REQUIRED_KEYS)
    assert set(row.data) == set(shared_row.data) == set(DATA_KEYS) | set(DISPERSION_KEYS)
    assert row.energy == shared_row.energy and np.array_equal(row.forces, shared_row.forces)


def _row_with(tmp_path, g2_db, **changes):
    shared_row = connect(str(g2_db)).get(molecule="H2O", frame=0)
    data = dict(shared_row.data)
    data.update(changes.pop("data", {}))
    kvp = dict(shared_row.key_value_pairs)
    kvp.update(changes)
    atoms = shared_row.toatoms()
    db = connect(str(tmp_path / "broken.db"))
    return db.get(id=db.write(atoms, key_value_pairs=kvp, data=data))


EXCITATIONS = {"tda_energies": np.array([7.1, 8.0, 8.9]), "tda_oscillator_strengths": np.array([0.0, 0.05, 0.1]),
               "sto3g_tda_energies": np.array([8.5, 9.9, 10.5]),
               "sto3g_tda_oscillator_strengths": np.array([0.01, 0.0, 0.2])}


def test_rows_with_excitations_validate(tmp_path, g2_db):
    validate_row(_row_with(tmp_path, g2_db, data=EXCITATIONS))
    assert set(EXCITATIONS) == set(OPTIONAL_DATA_KEYS)


@pytest.mark.parametrize("changes, message", [
    ({"nocc": 4}, "nocc 4"),
    ({"data": {"tda_energies": np.array([7.0, 8.0])}}, "must come together"),
    ({"data": {**EXCITATIONS, "tda_energies": np.array([7.0, 8.0])}}, "non-empty vectors of equal length"),
    ({"data": {**EXCITATIONS, "tda_energies": np.array([9.0, 8.0, 7.0])}}, "positive, finite and ascending"),
    ({"data": {**EXCITATIONS, "sto3g_tda_oscillator_strengths": np.array([0.1, -1.0, 0.0])}},
     "sto3g_tda_oscillator_strengths must be finite and non-negative"),
    ({"data": {**EXCITATIONS, "sto3g_tda_energies": np.arange(1.0, 12.0),
               "sto3g_tda_oscillator_strengths": np.zeros(11)}}, "more than the 10 single excitations"),
    ({"frame": "zero"}, "'frame' has type str"),
    ({"temperature": 300.0}, "unexpected keys"),
    ({"data": {"mo_energies": np.arange(5.0)}}, "mo_energies"),
    ({"data": {"sto3g_fock": np.ones((7, 6))}}, "sto3g_fock"),
    ({"data": {"sto3g_ao_labels": ["0 O 1s"] * 7}}, "sto3g_ao_labels"),
    ({"data": {"d4_energy": float("nan")}}, "d4_energy must be a finite number"),
    ({"data": {"d4_forces": np.zeros((2, 3))}}, r"d4_forces must be a finite \(3, 3\) array"),
])
def test_broken_rows_are_named(tmp_path, g2_db, changes, message):
    with pytest.raises(SchemaError, match=message):
        validate_row(_row_with(tmp_path, g2_db, **changes))


def test_rows_without_dispersion_stay_valid_but_half_of_it_is_named(tmp_path, g2_db):
    shared_row = connect(str(g2_db)).get(molecule="H2O", frame=0)
    db = connect(str(tmp_path / "old.db"))
    for keep in ((), ("d4_energy",)):
        data = {k: v for k, v in shared_row.data.items() if k not in DISPERSION_KEYS or k in keep}
        row = db.get(id=db.write(shared_row.toatoms(), key_value_pairs=shared_row.key_value_pairs, data=data))
        if not keep:
            validate_row(row)
        else:
            with pytest.raises(SchemaError, match="d4_energy and d4_forces must come together"):
                validate_row(row)
