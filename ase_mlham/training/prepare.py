"""Turning reference frames into fixed training tensors.

Descriptors do not change during training, so they are computed once:

* the Hamiltonian head's inputs (features and gate invariants per feature group,
  no gradients: the eigenvalue loss does not involve positions);
* the energy head's projected invariants ``p`` ``(n_atoms, k)`` and their
  Jacobian :math:`\\partial p / \\partial R` ``(n_atoms, k, n_atoms, 3)``, so that
  forces of any energy MLP are :math:`F = -\\sum_a J_a^T\\, \\partial E / \\partial p_a`
  without re-running the descriptor.

Frames are grouped into fixed batches; each batch holds concatenated inputs in
the order of its :class:`~ase_mlham.model.blocks.BlockLayout` and padded targets.
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


@dataclass
class FrameInputs:
    """Descriptor-derived inputs of one frame (detached)."""

    frame: ReferenceFrame
    pairs: torch.Tensor  # (n_pairs, 2) off-site blocks kept
    groups: dict[FeatureGroup, GroupInputs]
    invariants: torch.Tensor  # (n_atoms, n_invariants) energy-head input
    species_index: torch.Tensor  # (n_atoms,)
    projected: torch.Tensor | None = None  # (n_atoms, k)
    jacobian: torch.Tensor | None = None  # (n_atoms, k, n_atoms, 3)


def frame_inputs(model: MLHamModel, frame: ReferenceFrame) -> FrameInputs:
    """Features of one frame for both heads."""
    positions = torch.tensor(frame.positions, dtype=torch.float64)
    with torch.no_grad():
        features = model.features(frame.numbers, positions)
        pairs = unordered_pairs(features)
        groups = gather_group_inputs(features, block_samples(frame.numbers, pairs))
        invariants = energy_invariants(features)
    return FrameInputs(frame, pairs, groups, invariants, model.species_index(frame.numbers))


def projected_jacobian(model: MLHamModel, inputs: FrameInputs) -> tuple[torch.Tensor, torch.Tensor]:
    """Projected energy invariants ``(n_atoms, k)`` and their exact Jacobian ``(n_atoms, k, n_atoms, 3)``.

    Reverse mode, all ``n_atoms * k`` backward passes batched in one call
    (through the invariant part of the descriptor only).
    """
    frame = inputs.frame
    positions = torch.tensor(frame.positions, dtype=torch.float64, requires_grad=True)
    projected = model.energy_head.projected(model.energy_features(frame.numbers, positions), inputs.species_index)
    n_atoms, k = projected.shape
    outputs = torch.eye(n_atoms * k, dtype=projected.dtype).reshape(n_atoms * k, n_atoms, k)
    (jacobian,) = torch.autograd.grad(projected, positions, grad_outputs=outputs, is_grads_batched=True)
    return projected.detach(), jacobian.reshape(n_atoms, k, n_atoms, 3)


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
    energies: torch.Tensor  # (B,) eV
    n_atoms: torch.Tensor  # (B,)
    projected: torch.Tensor  # (N, k) all atoms of the batch
    species_index: torch.Tensor  # (N,)
    atom_frame: torch.Tensor  # (N,) frame of each atom
    atom_slot: torch.Tensor  # (N,) index of each atom within its frame
    jacobian: torch.Tensor  # (B, a_max, k, a_max, 3)
    forces: torch.Tensor  # (B, a_max, 3) eV/Angstrom, padded with 0
    atom_mask: torch.Tensor  # (B, a_max) bool


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
    a_max = max(len(f.numbers) for f in frames)
    k = items[0].projected.shape[1]
    jacobian = torch.zeros(batch_size, a_max, k, a_max, 3, dtype=torch.float64)
    forces = torch.zeros(batch_size, a_max, 3, dtype=torch.float64)
    atom_mask = torch.zeros(batch_size, a_max, dtype=torch.bool)
    for b, item in enumerate(items):
        frame, n, n_atoms = item.frame, item.frame.n_min, len(item.frame.numbers)
        targets[b, :n] = torch.tensor(frame.mo_target)
        mask[b, :n] = True
        weights[b, :n] = orbital_weights(frame, core_weight)
        jacobian[b, :n_atoms, :, :n_atoms] = item.jacobian
        forces[b, :n_atoms] = torch.tensor(frame.forces)
        atom_mask[b, :n_atoms] = True
    n_atoms = torch.tensor([len(f.numbers) for f in frames])
    return Batch(
        frames=frames, layout=layout, groups=groups, targets=targets, mask=mask, weights=weights,
        nocc=torch.tensor([f.nocc for f in frames]),
        energies=torch.tensor([f.energy for f in frames], dtype=torch.float64),
        n_atoms=n_atoms,
        projected=torch.cat([item.projected for item in items]),
        species_index=torch.cat([item.species_index for item in items]),
        atom_frame=torch.repeat_interleave(torch.arange(batch_size), n_atoms),
        atom_slot=torch.cat([torch.arange(int(n)) for n in n_atoms]),
        jacobian=jacobian, forces=forces, atom_mask=atom_mask,
    )


def fixed_batches(items: Sequence[FrameInputs], batch_size: int, core_weight: float,
                  rng: np.random.Generator) -> list[Batch]:
    """Frames shuffled once and cut into batches of at most ``batch_size``."""
    order = rng.permutation(len(items))
    return [make_batch([items[i] for i in order[start:start + batch_size]], core_weight)
            for start in range(0, len(items), batch_size)]
