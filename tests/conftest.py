"""Fixtures shared by the whole test suite."""

from pathlib import Path

import pytest

#: ``shared/`` beside the repository: reference data for developers and CI, never read by the package.
SHARED = Path(__file__).resolve().parents[1].parent / "shared"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """``shared/data``; tests using it skip when it is absent."""
    path = SHARED / "data"
    if not (path / "g2-b3lyp-def2tzvp.db").is_file():
        pytest.skip(f"shared reference data not found at {path}")
    return path


@pytest.fixture(scope="session")
def g2_db(shared_data: Path) -> Path:
    """The shared G2 training pool (835 frames, B3LYP/def2-TZVP)."""
    return shared_data / "g2-b3lyp-def2tzvp.db"
