"""Turning reference frames into fixed training tensors.

Descriptors do not change during training, so they are computed once:

* the Hamiltonian head's inputs (features and gate invariants per feature group,
  no gradients: the eigenvalue loss does not involve positions);
* the energy head's invariants ``f`` ``(n_atoms, n_invariants)`` and their
  Jacobian :math:`\\partial f / \\partial R` ``(n_atoms, n_invariants, n_atoms, 3)``
  (forward mode: 3 n_atoms directional derivatives), so that forces of any energy
  head are :math:`F = -\\sum_a J_a^T\\, \\partial E / \\partial f_a` without
  re-running the descriptor.

Frames are grouped into fixed batches; each batch holds concatenated inputs in
the order of its :class:`~ase_mlham.model.blocks.BlockLayout`, padded orbital
targets, and the Jacobians of its frames packed frame after frame, unpadded:
their size (and the cost of forces) is the sum of n_atoms^2 over the frames,
not the batch size times the largest frame's n_atoms^2. Padded, batches of G2
frames (3-14 atoms) with a few of 10-20 atoms (molecule pairs, pentane) held
several times the memory, and their energy + force loss took twice as long.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch

from ase_mlham.data.dataset import ReferenceFrame
from ase_mlham.metrics import number_of_core_orbitals
from ase_mlham.model.blocks import BlockLayout, block_layout, block_samples
from ase_mlham.model.inputs import FeatureGroup, GroupInputs, energy_invariants, gather_group_inputs, unordered_pairs
from ase_mlham.model.model import MLHamModel
from ase_mlham.training.targets import BaselineCache, head_targets


@dataclass
class FrameInputs:
    """Descriptor-derived inputs of one frame (detached)."""

    frame: ReferenceFrame
    pairs: torch.Tensor  # (n_pairs, 2) off-site blocks kept
    groups: dict[FeatureGroup, GroupInputs]
    invariants: torch.Tensor  # (n_atoms, n_invariants) energy-head input
    species_index: torch.Tensor  # (n_atoms,)
    energy: float  # eV, the energy head's target (training.targets.head_targets)
    forces: np.ndarray  # (n_atoms, 3) eV/Angstrom, the energy head's target
    jacobian: torch.Tensor | None = None  # (n_atoms, n_invariants, n_atoms, 3) 1/Angstrom


def frame_inputs(model: MLHamModel, frame: ReferenceFrame, cache: BaselineCache | None = None,
                 hamiltonian: bool = True) -> FrameInputs:
    """Features of one frame for both heads (without ``hamiltonian``, for the energy head only: no
    pairs or feature groups), and the energy head's targets (the reference level minus the model's
    baseline, whose numbers come from ``cache``)."""
    positions = torch.tensor(frame.positions, dtype=torch.float64)
    if not hamiltonian:
        with torch.no_grad():
            invariants = model.energy_features(frame.numbers, positions)
        energy, forces = head_targets(frame, model.settings, cache)
        return FrameInputs(frame, torch.zeros(0, 2, dtype=torch.long), {}, invariants,
                           model.species_index(frame.numbers), energy, forces)
    with torch.no_grad():
        features = model.features(frame.numbers, positions)
        pairs = unordered_pairs(features)
        groups = gather_group_inputs(features, block_samples(frame.numbers, pairs))
        if model.energy_descriptor is model.descriptor:  # the energy invariants are among the features
            invariants = energy_invariants(features)
        else:
            invariants = model.energy_features(frame.numbers, positions)
    energy, forces = head_targets(frame, model.settings, cache)
    return FrameInputs(frame, pairs, groups, invariants, model.species_index(frame.numbers), energy, forces)


def invariant_jacobian(model: MLHamModel, inputs: FrameInputs) -> torch.Tensor:
    """Exact Jacobian of the energy invariants, ``(n_atoms, n_invariants, n_atoms, 3)`` per Angstrom.

    Forward mode: one directional derivative per Cartesian coordinate (3 n_atoms),
    far fewer than the n_atoms * n_invariants backward passes of reverse mode.
    """
    frame = inputs.frame
    positions = torch.tensor(frame.positions, dtype=torch.float64)
    return torch.autograd.functional.jacobian(
        lambda r: model.energy_features(frame.numbers, r), positions, vectorize=True, strategy="forward-mode")


def orbital_weights(frame: ReferenceFrame, core_weight: float) -> torch.Tensor:
    """Loss weight of each target orbital ``(n_min,)``: ``core_weight`` for the C/N/O 1s orbitals, else 1."""
    weights = torch.ones(frame.n_min, dtype=torch.float64)
    weights[: number_of_core_orbitals(frame.numbers)] = core_weight
    return weights


@dataclass
class Batch:
    """Fixed tensors of a batch of frames (see the module docstring)."""

    frames: list[ReferenceFrame]
    layout: BlockLayout
    groups: dict[FeatureGroup, GroupInputs]
    targets: torch.Tensor  # (B, n_max) eV, padded with 0
    mask: torch.Tensor  # (B, n_max) bool real orbitals
    weights: torch.Tensor  # (B, n_max) loss weights, 0 on padding
    nocc: torch.Tensor  # (B,)
    energies: torch.Tensor  # (B,) eV, the energy head's targets
    n_atoms: torch.Tensor  # (B,)
    invariants: torch.Tensor  # (N, n_invariants) all atoms of the batch
    species_index: torch.Tensor  # (N,)
    atom_frame: torch.Tensor  # (N,) frame of each atom
    # (sum of n_atoms^2, n_invariants, 3) 1/Angstrom: d f_a / d R_c, frame after frame, rows (a, c) a-major
    jacobian: torch.Tensor
    forces: torch.Tensor  # (N, 3) eV/Angstrom, the energy head's targets


def make_batch(items: Sequence[FrameInputs], core_weight: float) -> Batch:
    """Concatenate and pad the inputs of several frames."""
    frames = [item.frame for item in items]
    layout = block_layout([f.numbers for f in frames], [item.pairs for item in items])
    groups = {}
    for group in {g for item in items for g in item.groups}:
        parts = [item.groups[group] for item in items if group in item.groups]
        groups[group] = GroupInputs(torch.cat([p.features for p in parts]), torch.cat([p.invariants for p in parts]))
    n_max = layout.n_max
    batch_size = len(frames)
    targets = torch.zeros(batch_size, n_max, dtype=torch.float64)
    mask = torch.zeros(batch_size, n_max, dtype=torch.bool)
    weights = torch.zeros(batch_size, n_max, dtype=torch.float64)
    jacobians = []
    for b, item in enumerate(items):
        frame, n, n_atoms = item.frame, item.frame.n_min, len(item.frame.numbers)
        targets[b, :n] = torch.tensor(frame.mo_target)
        mask[b, :n] = True
        weights[b, :n] = orbital_weights(frame, core_weight)
        # (a, f, c, x) -> rows (a, c) of (f, x)
        jacobians.append(item.jacobian.permute(0, 2, 1, 3).reshape(n_atoms * n_atoms, -1, 3))
    n_atoms = torch.tensor([len(f.numbers) for f in frames])
    return Batch(
        frames=frames, layout=layout, groups=groups, targets=targets, mask=mask, weights=weights,
        nocc=torch.tensor([f.nocc for f in frames]),
        energies=torch.tensor([item.energy for item in items], dtype=torch.float64),
        n_atoms=n_atoms,
        invariants=torch.cat([item.invariants for item in items]),
        species_index=torch.cat([item.species_index for item in items]),
        atom_frame=torch.repeat_interleave(torch.arange(batch_size), n_atoms),
        jacobian=torch.cat(jacobians),
        forces=torch.cat([torch.tensor(item.forces, dtype=torch.float64) for item in items]),
    )


def fixed_batches(items: Sequence[FrameInputs], batch_size: int, core_weight: float,
                  rng: np.random.Generator) -> list[Batch]:
    """Frames shuffled once and cut into batches of at most ``batch_size``."""
    order = rng.permutation(len(items))
    return [make_batch([items[i] for i in order[start:start + batch_size]], core_weight)
            for start in range(0, len(items), batch_size)]
