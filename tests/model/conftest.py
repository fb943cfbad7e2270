"""Tiny models for fast model tests."""

import dataclasses

import pytest

from ase_mlham.model.model import MLHamModel
from ase_mlham.model.testing import randomise
from ase_mlham.model.settings import PRESETS

#: Small enough for quick tests; every feature group still exists.
TINY_SETTINGS = PRESETS["tiny"]

#: The same with the energy head on its own, finer descriptor (another cutoff too).
TINY_SEPARATE_ENERGY_SETTINGS = dataclasses.replace(
    TINY_SETTINGS, energy_descriptor=dataclasses.replace(TINY_SETTINGS.descriptor, max_radial=3, cutoff=4.5))


@pytest.fixture(scope="module", params=["shared descriptor", "separate energy descriptor"])
def random_model(request) -> MLHamModel:
    """A tiny model with random weights: every symmetry must hold for any weights."""
    settings = TINY_SETTINGS if request.param == "shared descriptor" else TINY_SEPARATE_ENERGY_SETTINGS
    return randomise(MLHamModel(settings)).eval()
