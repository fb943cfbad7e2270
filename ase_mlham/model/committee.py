r"""Uncertainty of the orbital energies: a committee of Hamiltonians that share the model's features.

Each block head's output is linear in its weights ``linear`` (:class:`~ase_mlham.model.heads.BlockHead`).
The committee keeps, per block key, ``n_members`` perturbations :math:`\delta w^{(m)}` of those weights,
fitted once at training time (:mod:`ase_mlham.training.committee`: the closed-form ridge fits of the
blocks along a path of regularisation strengths, centred); a prediction adds each to the model's blocks
and diagonalises the ``n_members`` Hamiltonians :math:`H' + \delta H'^{(m)}`. The spread of their
eigenvalues, gap and (on request) sTDA excitations, times a scale calibrated per quantity on validation
molecules, is the reported uncertainty. The members share the features and the model's own H', so they
cost ``n_members`` small eigensolves, not ``n_members`` models.
"""

from __future__ import annotations

import torch
from torch import nn

from ase_mlham.model.blocks import BlockKey
from ase_mlham.model.inputs import FeatureGroup, feature_group, key_name

DTYPE = torch.float64

#: Quantities with their own calibrated scale: every orbital energy, the gap, the excitation energies.
SCALED_QUANTITIES = ("orbital", "gap", "excitation")


class HamiltonianCommittee(nn.Module):
    """Posterior samples of the block heads' linear weights, ``(n_members, n_features)`` per key,
    and one calibrated scale per quantity of :data:`SCALED_QUANTITIES` (buffers ``<quantity>_scale``)."""

    def __init__(self, keys: list[BlockKey], group_sizes: dict[FeatureGroup, tuple[int, int]],
                 n_members: int) -> None:
        super().__init__()
        if not isinstance(n_members, int) or n_members < 2:
            raise ValueError(f"a committee needs at least 2 members, got {n_members!r}")
        self.keys = list(keys)
        self.n_members = n_members
        self.samples = nn.Module()
        for key in self.keys:
            n_features = group_sizes[feature_group(key)][0]
            self.samples.register_buffer(key_name(key), torch.zeros(n_members, n_features, dtype=DTYPE))
        for quantity in SCALED_QUANTITIES:
            self.register_buffer(f"{quantity}_scale", torch.zeros((), dtype=DTYPE))

    def weights(self, key: BlockKey) -> torch.Tensor:
        """The perturbations of a key's linear weights, ``(n_members, n_features)``."""
        return getattr(self.samples, key_name(key))

    def perturbations(self, scaled: dict[FeatureGroup, torch.Tensor], keys: list[BlockKey]
                      ) -> dict[BlockKey, torch.Tensor]:
        """Block perturbations ``(n_members, n, 2 lambda + 1)`` per key from the scaled features of its
        group ``(n, 2 lambda + 1, n_features)`` (:meth:`HamiltonianHead.scaled_features`)."""
        # (n, m, f) @ (f, k) is one matrix product; einsum's dispatch cost more than the product at MD sizes
        return {key: torch.movedim(scaled[feature_group(key)] @ self.weights(key).T, -1, 0)
                for key in keys if feature_group(key) in scaled}

    def spread(self, values: torch.Tensor, quantity: str) -> torch.Tensor:
        """Calibrated uncertainty: the members' standard deviation (first axis) times the quantity's scale."""
        return getattr(self, f"{quantity}_scale") * values.std(dim=0)
