"""What the energy head's MLPs add on top of its closed-form linear term, and what their input scale does.

Fits the closed-form part of the energy head (``training.initialise.fit_energy_head``)
to the training energies and forces of a model file's split of the G2 pool,
then trains only the per-species MLPs (freshly initialised, last layer zero)
on energies and forces with the loss, optimiser and schedule of ``mlham train``
(``training.trainer``: Adam, cosine schedule, per-atom energy loss + force
weight x force loss), once for each MLP input scale, and prints energy
(meV/molecule) and force (eV/A per component) MAE on the training frames, the
held-out G2 test frames and the larger molecules. Scale ``sqrt`` is the
architecture's (``EnergyHead.network_input_scale = sqrt(n_invariants)``);
``1`` is the previous one. The Hamiltonian head plays no part, so this takes
minutes where a full training takes half an hour: 15 minutes for the command
below on one thread beside other jobs (the invariant Jacobians, a few GB, stay
in memory).

    OMP_NUM_THREADS=1 python benchmarks/energy_network.py ase_mlham/models/default.pt --scales 1 sqrt
"""

from __future__ import annotations

import argparse
import math
import sys
from typing import Sequence

import numpy as np
import torch

from ase_mlham.model.heads import EnergyHead
from ase_mlham.training.initialise import fit_energy_head
from ase_mlham.training.prepare import FrameInputs
from ase_mlham.training.trainer import TrainingSettings, cosine_schedule
from energy_ridge import energy_inputs, errors, prediction_errors, predictions
from g2_split import add_split_arguments, split_from_arguments


def reset_networks(head: EnergyHead, hidden: tuple[int, ...], seed: int) -> None:
    """The MLPs of a freshly built ``EnergyHead`` (last layers zero), seeded; the fitted buffers stay."""
    torch.manual_seed(seed)
    head.networks = EnergyHead(head.species, head.mean.shape[1], hidden).networks


def batch_loss(head: EnergyHead, items: Sequence[FrameInputs], force_weight: float) -> torch.Tensor:
    """``mlham train``'s energy + force loss over ``items`` (eV^2/atom^2 + weight x (eV/A)^2)."""
    invariants = torch.cat([item.invariants for item in items]).requires_grad_(True)
    atomic = head(invariants, torch.cat([item.species_index for item in items]))
    sizes = [len(item.species_index) for item in items]
    energies = torch.stack([part.sum() for part in atomic.split(sizes)])
    (gradient,) = torch.autograd.grad(energies.sum(), invariants, create_graph=True)
    forces = torch.cat([-torch.einsum("af,afbx->bx", part, item.jacobian)
                        for part, item in zip(gradient.split(sizes), items)])
    reference_energies = torch.tensor([item.energy for item in items], dtype=torch.float64)
    reference_forces = torch.cat([torch.tensor(item.forces, dtype=torch.float64) for item in items])
    energy_loss = (((energies - reference_energies) / torch.tensor(sizes)) ** 2).mean()
    return energy_loss + force_weight * ((forces - reference_forces) ** 2).mean()


def train_networks(head: EnergyHead, items: Sequence[FrameInputs], settings: TrainingSettings,
                   weight_decay: float = 0.0) -> None:
    """Adam on the MLPs only (the linear term and offsets are buffers), ``mlham train``'s schedule;
    with ``weight_decay`` > 0, AdamW (decoupled decay) instead, which ``mlham train`` does not use."""
    parameters, rate = head.networks.parameters(), settings.energy_learning_rate
    optimiser = (torch.optim.AdamW(parameters, lr=rate, weight_decay=weight_decay) if weight_decay > 0
                 else torch.optim.Adam(parameters, lr=rate))
    schedule = cosine_schedule(optimiser, settings)
    rng = np.random.default_rng(settings.seed)
    for _ in range(settings.epochs):
        order = rng.permutation(len(items))
        for start in range(0, len(items), settings.batch_size):
            loss = batch_loss(head, [items[i] for i in order[start:start + settings.batch_size]], settings.force_weight)
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
        schedule.step()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_split_arguments(parser, "a model file written by mlham train (its split and energy descriptor)")
    parser.add_argument("--scales", nargs="+", default=["sqrt"],
                        help="MLP input scales to compare: numbers, or 'sqrt' for sqrt(n_invariants)")
    defaults = TrainingSettings()
    parser.add_argument("--epochs", type=int, default=defaults.epochs)
    parser.add_argument("--batch-size", type=int, default=defaults.batch_size)
    parser.add_argument("--energy-learning-rate", type=float, default=defaults.energy_learning_rate)
    parser.add_argument("--force-weight", type=float, default=defaults.force_weight)
    parser.add_argument("--weight-decay", type=float, default=0.0,
                        help="AdamW weight decay of the MLPs (0: Adam, as mlham train)")
    parser.add_argument("--hidden", nargs="+", default=None,
                        help="MLP hidden widths to compare, each comma-separated (e.g. 64,64 128,128); "
                             "default: the model's")
    parser.add_argument("--members", type=int, default=1,
                        help="MLP sets trained from seeds seed..seed+MEMBERS-1 whose predictions are averaged "
                             "(an ensemble; 1: one, as mlham train)")
    args = parser.parse_args(argv)
    settings = TrainingSettings(epochs=args.epochs, batch_size=args.batch_size,
                                energy_learning_rate=args.energy_learning_rate, force_weight=args.force_weight)

    model, split, larger = split_from_arguments(parser, args)
    sets = {"train": energy_inputs(model, split["train"]), "G2 test": energy_inputs(model, split["test"]),
            "larger": energy_inputs(model, larger)}
    head = model.energy_head
    fit_energy_head(model, sets["train"], settings.energy_ridge_regularisation)
    n_invariants = head.mean.shape[1]
    print(f"{len(sets['train'])} training frames, {n_invariants} invariants, "
          f"{settings.epochs} epochs, batch {settings.batch_size}, learning rate {settings.energy_learning_rate:g}, "
          f"force weight {settings.force_weight:g}, weight decay {args.weight_decay:g}; "
          "MAE energy (meV/molecule) / forces (eV/A)")
    print(f"{'MLP input scale':>16} {'hidden':>12} " + " ".join(f"{name:>16}" for name in sets))
    widths = ([tuple(int(w) for w in text.split(",")) for text in args.hidden] if args.hidden
              else [model.settings.energy_hidden])
    reset_networks(head, widths[0], settings.seed)  # last layers zero: the linear term alone
    cells = [errors(model, items) for items in sets.values()]
    print(f"{'(no MLP)':>16} {'':>12} " + " ".join(f"{e:>8.0f} / {f:.3f}" for e, f in cells))
    for scale in args.scales:
        for hidden in widths:
            head.network_input_scale = math.sqrt(n_invariants) if scale == "sqrt" else float(scale)
            members = []  # per member, per set, per frame: (energy, forces)
            for member in range(args.members):
                reset_networks(head, hidden, settings.seed + member)
                train_networks(head, sets["train"], settings, args.weight_decay)
                members.append([predictions(model, items) for items in sets.values()])
            label = f"sqrt(n) = {math.sqrt(n_invariants):.1f}" if scale == "sqrt" else scale
            rows = [(f"{','.join(map(str, hidden))}", members[0])]
            if args.members > 1:
                averaged = [[(float(np.mean([m[s][i][0] for m in members])), np.mean([m[s][i][1] for m in members], 0))
                             for i in range(len(items))] for s, items in enumerate(sets.values())]
                rows.append((f"{','.join(map(str, hidden))} x{args.members}", averaged))
            for name, predicted in rows:
                cells = [prediction_errors(p, items) for p, items in zip(predicted, sets.values())]
                print(f"{label:>16} {name:>12} " + " ".join(f"{e:>8.0f} / {f:.3f}" for e, f in cells), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
