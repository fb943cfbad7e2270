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


def test_generation_jobs_script_names_its_parts():
    """data/generate.sh (the background jobs of data/README.md) refuses an unknown part before any work."""
    import subprocess

    script = Path(__file__).resolve().parents[2] / "data" / "generate.sh"
    assert subprocess.run(["bash", "-n", str(script)]).returncode == 0
    result = subprocess.run(["bash", str(script), "nonsense"], capture_output=True, text=True, timeout=30)
    assert result.returncode == 2
    assert "unknown part: nonsense (validation, test, series, test-then-series or train)" in result.stderr
    text = script.read_text()
    for part in ("--split validation --frames 2", "--split test --frames 2", "--split train --frames 3"):
        assert part in text  # the commands data/README.md gives
