"""The project's own reference databases in ``data/``: every row follows the DATA.md schema and
the files hold the frames and molecules ``data/manifest.json`` lists."""

import json
import lzma
import shutil
from pathlib import Path

import pytest
from ase.db import connect

from ase_mlham.data.dispersion import DISPERSION_KEYS
from ase_mlham.data.schema import validate_row

DATA = Path(__file__).resolve().parents[2] / "data"
MANIFEST = json.loads((DATA / "manifest.json").read_text())


def test_manifest_lists_every_file():
    assert sorted(MANIFEST) == sorted(path.name for path in DATA.glob("*.db.xz"))


@pytest.mark.parametrize("name", sorted(MANIFEST))
def test_database_rows_follow_the_schema(name, tmp_path):
    path = tmp_path / name.removesuffix(".xz")
    with lzma.open(DATA / name) as packed, open(path, "wb") as unpacked:
        shutil.copyfileobj(packed, unpacked)
    rows = list(connect(str(path)).select())
    for row in rows:
        validate_row(row)
        assert all(key in row.data for key in DISPERSION_KEYS), f"row {row.id} of {name} lacks the D4 dispersion"
    assert len(rows) == MANIFEST[name]["frames"]
    assert len({row.molecule for row in rows}) == MANIFEST[name]["molecules"]
    assert len({(row.molecule, row.frame) for row in rows}) == len(rows)  # no frame twice
