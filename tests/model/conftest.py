"""Tiny models for fast model tests."""

import pytest

from ase_mlham.model.model import MLHamModel
from ase_mlham.model.testing import randomise
from ase_mlham.model.settings import PRESETS

#: Small enough for quick tests; every feature group still exists.
TINY_SETTINGS = PRESETS["tiny"]


@pytest.fixture(scope="module")
def random_model() -> MLHamModel:
    """A tiny model with random weights: every symmetry must hold for any weights."""
    return randomise(MLHamModel(TINY_SETTINGS)).eval()
