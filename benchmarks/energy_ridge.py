"""Regularisation of the energy head's closed-form linear term: accuracy in distribution vs transfer.

Fits only the closed-form part of the energy head (per-species offsets and the
linear term on the standardised invariants, ``training.initialise.fit_energy_head``;
the MLPs stay zero) to the training energies and forces of a model file's split
of the G2 pool, for several values of ``energy_ridge_regularisation``, and prints
energy (meV/molecule) and force (eV/A per component) MAE on the held-out G2 test
frames and on the larger molecules. This is how the default (1e-8) was chosen.

    OMP_NUM_THREADS=1 python benchmarks/energy_ridge.py ase_mlham/models/default.pt
"""

from __future__ import annotations

import argparse
import sys
from typing import Sequence

import numpy as np
import torch

from ase_mlham.data.dataset import ReferenceFrame
from ase_mlham.model.model import MLHamModel
from ase_mlham.training.initialise import fit_energy_head
from ase_mlham.training.prepare import FrameInputs, frame_inputs, invariant_jacobian
from g2_split import add_split_arguments, split_from_arguments


def energy_inputs(model: MLHamModel, frames: Sequence[ReferenceFrame]) -> list[FrameInputs]:
    """Energy invariants, targets and their Jacobians only (no Hamiltonian features)."""
    items = []
    for frame in frames:
        item = frame_inputs(model, frame, hamiltonian=False)
        item.jacobian = invariant_jacobian(model, item)
        items.append(item)
    return items


def predictions(model: MLHamModel, items: Sequence[FrameInputs]) -> list[tuple[float, np.ndarray]]:
    """Energy (eV) and forces ``(n_atoms, 3)`` eV/A of the energy head per frame, from the stored Jacobians."""
    predicted = []
    for item in items:
        invariants = item.invariants.clone().requires_grad_(True)
        energy = model.energy_head(invariants, item.species_index).sum()
        (gradient,) = torch.autograd.grad(energy, invariants)
        forces = -torch.einsum("af,afbx->bx", gradient, item.jacobian)
        predicted.append((float(energy.detach()), forces.numpy()))
    return predicted


def prediction_errors(predicted: Sequence[tuple[float, np.ndarray]], items: Sequence[FrameInputs]
                      ) -> tuple[float, float]:
    """Energy MAE (meV/molecule) and force MAE (eV/A per component) of :func:`predictions`' output."""
    energy_errors = [abs(energy - item.energy) for (energy, _), item in zip(predicted, items)]
    force_errors = [np.abs(forces - item.forces).ravel() for (_, forces), item in zip(predicted, items)]
    return 1000 * float(np.mean(energy_errors)), float(np.concatenate(force_errors).mean())


def errors(model: MLHamModel, items: Sequence[FrameInputs]) -> tuple[float, float]:
    """Energy MAE (meV/molecule) and force MAE (eV/A) of the energy head from the stored Jacobians."""
    return prediction_errors(predictions(model, items), items)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_split_arguments(parser, "a model file written by mlham train (its splits and descriptor)")
    parser.add_argument("--regularisation", type=float, nargs="+", default=[1e-10, 1e-8, 1e-6])
    args = parser.parse_args(argv)

    model, split, larger = split_from_arguments(parser, args)
    train, test = energy_inputs(model, split["train"]), energy_inputs(model, split["test"])
    larger = energy_inputs(model, larger)
    with torch.no_grad():
        for network in model.energy_head.networks:  # the closed-form part alone
            network[-1].weight.zero_()
            network[-1].bias.zero_()
    print(f"linear term only, {len(train)} training frames; MAE energy (meV/molecule) / forces (eV/A)")
    print(f"{'regularisation':>15} {'G2 test':>18} {'larger':>18}")
    for regularisation in args.regularisation:
        fit_energy_head(model, train, regularisation)
        cells = [errors(model, items) for items in (test, larger)]
        print(f"{regularisation:>15g} " + " ".join(f"{e:>9.0f} / {f:>6.3f}" for e, f in cells))
    return 0


if __name__ == "__main__":
    sys.exit(main())
