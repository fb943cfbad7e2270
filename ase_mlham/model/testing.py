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


def random_tiny_delta_model(seed: int = 0, scale: float = 0.3, damping_width: float = 0.5) -> MLHamModel:
    """The ``tiny`` preset on a GFN2-xTB baseline (linear, damped correction) with random weights and a
    random positive definite covariance, so that the damping really acts (``damping_width`` eV), and a
    committee of 4 Hamiltonians with random perturbations and unit scales."""
    import dataclasses

    settings = dataclasses.replace(PRESETS["tiny"], energy_hidden=(), energy_baseline="GFN2-xTB", dispersion=True,
                                   hamiltonian_members=4)
    model = randomise(MLHamModel(settings), seed, scale)
    head = model.energy_head
    generator = torch.Generator().manual_seed(seed + 1)
    with torch.no_grad():
        n_species, n_invariants = head.mean.shape
        factor = torch.randn(n_species, n_invariants, n_invariants, dtype=head.mean.dtype, generator=generator)
        head.covariance.copy_(factor @ factor.mT / n_invariants)
        head.uncertainty_scale.fill_(1.0)
        head.damping_width.fill_(damping_width)
        head.force_uncertainty_scale.fill_(1.0)
        for key in model.committee.keys:
            samples = model.committee.weights(key)
            samples.copy_(0.05 * torch.randn(samples.shape, dtype=samples.dtype, generator=generator))
        for name in ("orbital_scale", "gap_scale", "excitation_scale"):
            getattr(model.committee, name).fill_(1.0)
    return model.eval()
