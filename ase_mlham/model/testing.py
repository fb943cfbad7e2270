"""Helpers for tests of code that needs a model: reproducible random weights.

A model with random weights predicts nonsense spectra, but every symmetry
(rotation, permutation, size consistency) and forces = -dE/dR must hold for
any weights, which is what tests of the model, the calculator and the drivers check.
"""

from __future__ import annotations

import torch

from ase_mlham.model.model import MLHamModel
from ase_mlham.model.settings import PRESETS


def randomise(model: MLHamModel, seed: int = 0, scale: float = 0.3) -> MLHamModel:
    """Give every parameter (zero at construction) and the energy head's linear weights
    reproducible random values; returns the model in eval mode."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.copy_(scale * torch.randn(parameter.shape, dtype=parameter.dtype, generator=generator))
        linear = model.energy_head.linear
        linear.copy_(0.1 * torch.randn(linear.shape, dtype=linear.dtype, generator=generator))
        # the MLPs read their inputs times network_input_scale; undoing it in their first layers keeps
        # the random energy surface as gentle as a trained one (forces of ~1 eV/A, not ~10), so that
        # MD with a random model (driver tests) does not fly apart
        for network in model.energy_head.networks:
            network[0].weight /= model.energy_head.network_input_scale
    return model.eval()


def random_tiny_model(seed: int = 0, scale: float = 0.3) -> MLHamModel:
    """The ``tiny`` preset with random weights."""
    return randomise(MLHamModel(PRESETS["tiny"]), seed, scale)
