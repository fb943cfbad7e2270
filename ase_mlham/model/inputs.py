"""Which features feed which Hamiltonian block, and the energy head's invariants.

A block key ``(kind, species, shells, lambda)`` with inversion sign
:math:`P = (-1)^{l_a + l_b}` takes features of degree lambda and parity
``sigma = P (-1)^lambda`` (the convention of :mod:`ase_mlham.descriptors`):

* ``onsite``: ``features.onsite`` of atom i, gated by ``onsite[(0, 1)]`` of atom i;
* ``pair``: ``features.pair`` of (i, j), gated by ``pair[(0, 1)]`` of (i, j);
* ``pair_sym``: ``features.pair_symmetric`` of (i, j), gated by ``pair_symmetric[(0, 1)]``;
* ``pair_antisym``: ``features.pair_antisymmetric`` of (i, j), gated by
  ``pair_symmetric[(0, 1)]``, which is invariant under the swap, so the product
  stays antisymmetric.

The features of a group ``(kind, species, lambda, sigma)`` are shared by all
keys of that group; :func:`feature_group` names it.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import torch

from ase_mlham.descriptors.features import Features
from ase_mlham.model.blocks import BlockKey

_SOURCE = {"onsite": "onsite", "pair": "pair", "pair_sym": "pair_symmetric", "pair_antisym": "pair_antisymmetric"}
_GATE_SOURCE = {"onsite": "onsite", "pair": "pair", "pair_sym": "pair_symmetric", "pair_antisym": "pair_symmetric"}


class FeatureGroup(NamedTuple):
    """Features shared by several block keys: kind, species pair, lambda, sigma."""

    kind: str
    species: tuple[int, int]
    lam: int
    sigma: int

    @property
    def name(self) -> str:
        """A stable string usable as a module or buffer name."""
        sign = "p" if self.sigma > 0 else "m"
        return f"{self.kind}_{self.species[0]}_{self.species[1]}_l{self.lam}{sign}"


class GateGroup(NamedTuple):
    """Invariants gating a family of keys: ``onsite``, ``pair`` or ``pair_sym`` (shared by antisym)."""

    kind: str
    species: tuple[int, int]

    @property
    def name(self) -> str:
        """A stable string usable as a module name."""
        return f"gate_{self.kind}_{self.species[0]}_{self.species[1]}"


def feature_group(key: BlockKey) -> FeatureGroup:
    """The feature group a block key is predicted from."""
    return FeatureGroup(key.kind, key.species, key.lam, key.parity * (-1) ** key.lam)


def gate_group(key: BlockKey) -> GateGroup:
    """The invariants gating a block key."""
    kind = "pair_sym" if key.kind == "pair_antisym" else key.kind
    return GateGroup(kind, key.species)


def key_name(key: BlockKey) -> str:
    """A stable string for a block key."""
    return f"{key.kind}_{key.species[0]}_{key.species[1]}_s{key.shells[0]}{key.shells[1]}_l{key.lam}"


def _row_lookup(samples: np.ndarray, n_atoms: int) -> torch.Tensor:
    """Dense ``(n_atoms, n_atoms)`` map from a sample (i, j) to its row (-1 where absent)."""
    lookup = torch.full((n_atoms, n_atoms), -1, dtype=torch.long)
    if samples.shape[1] == 1:
        lookup[samples[:, 0], samples[:, 0]] = torch.arange(len(samples))
    else:
        lookup[samples[:, 0], samples[:, 1]] = torch.arange(len(samples))
    return lookup


def unordered_pairs(features: Features) -> torch.Tensor:
    """Pairs within the pair cutoff, each once (i < j), shape ``(n, 2)``: the off-site blocks kept."""
    pairs = features.pairs
    return torch.as_tensor(pairs[pairs[:, 0] < pairs[:, 1]], dtype=torch.long).reshape(-1, 2)


class GroupInputs(NamedTuple):
    """Inputs of one feature group for given samples."""

    features: torch.Tensor  # (n, 2 lambda + 1, n_features)
    invariants: torch.Tensor  # (n, n_invariants) of the gate group


def gather_group_inputs(features: Features, samples: dict[BlockKey, torch.Tensor]
                        ) -> dict[FeatureGroup, GroupInputs]:
    """Features and gate invariants of every group, for the samples of its keys.

    All keys of a group share samples (same kind and species), so each group
    is gathered once. ``samples`` as returned by
    :func:`ase_mlham.model.blocks.block_samples` (local atom indices).
    """
    n_atoms = len(features.numbers)
    blocks = features.all_blocks()
    lookups: dict[str, torch.Tensor] = {}
    gathered: dict[FeatureGroup, GroupInputs] = {}
    for key, ij in samples.items():
        group = feature_group(key)
        if group in gathered:
            continue
        source = blocks[_SOURCE[key.kind]]
        gate_source = blocks[_GATE_SOURCE[key.kind]]
        if (group.lam, group.sigma) not in source:
            raise KeyError(f"descriptor gives no ({group.lam}, {group.sigma}) features for {key}")
        block = source[(group.lam, group.sigma)]
        name = _SOURCE[key.kind]
        if name not in lookups:
            lookups[name] = _row_lookup(block.samples, n_atoms)
        rows = lookups[name][ij[:, 0], ij[:, 1]]
        if bool((rows < 0).any()):
            raise ValueError(f"some samples of {key} have no features (outside the pair cutoff?)")
        # The gate source has the same samples in the same order as the source.
        gathered[group] = GroupInputs(block.values.index_select(0, rows),
                                      gate_source[(0, 1)].values[:, 0, :].index_select(0, rows))
    return gathered


def energy_invariants(features: Features) -> torch.Tensor:
    """Atom-centred invariants (local and LODE) of the energy head, ``(n_atoms, n_invariants)``."""
    return features.onsite[(0, 1)].values[:, 0, :]
