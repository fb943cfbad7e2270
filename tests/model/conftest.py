"""Tiny models for fast model tests."""

import pytest
import torch

from ase_mlham.model.model import MLHamModel
from ase_mlham.model.settings import PRESETS

#: Small enough for quick tests; every feature group still exists.
TINY_SETTINGS = PRESETS["tiny"]


def randomise(model: MLHamModel, seed: int = 0, scale: float = 0.3) -> MLHamModel:
    """Give every parameter (zero at construction) a reproducible random value."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.copy_(scale * torch.randn(parameter.shape, dtype=parameter.dtype, generator=generator))
        model.energy_head.projection.copy_(
            torch.randn(model.energy_head.projection.shape, dtype=torch.float64, generator=generator) * 0.1)
    return model


@pytest.fixture(scope="module")
def random_model() -> MLHamModel:
    """A tiny model with random weights: every symmetry must hold for any weights."""
    return randomise(MLHamModel(TINY_SETTINGS)).eval()
