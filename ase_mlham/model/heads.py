r"""Learnable heads: Hamiltonian blocks from equivariant features, atomic energies from invariants.

Hamiltonian head, per block key (one coupled block of degree lambda):

.. math:: h_\mu = \sum_q \frac{x_{\mu q}}{s_q} w_q
          + \sum_{c} \Big(\sum_q \frac{x_{\mu q}}{s_q} u_{qc}\Big)\, g_c(\text{invariants})
          \;[+\, b \text{ for on-site } \lambda = 0]

:math:`x` are the features of the key's group (same lambda and parity),
:math:`s` their training-set RMS (a buffer), :math:`g` a small invariant
embedding shared by the keys of a species (pair). Multiplying equivariants by
invariants keeps the result equivariant; pair features vanish at the pair
cutoff, so the predicted off-site blocks do too (no bias there).

Energy head: with standardised invariants :math:`x_i = (f_i - m_{Z_i}) / s_{Z_i}`,
:math:`E = \sum_i [\epsilon_{Z_i} + w_{Z_i} \cdot x_i + \mathrm{MLP}_{Z_i}(\sqrt{n} x_i)]`:
per-species offsets :math:`\epsilon_Z` and linear weights :math:`w_Z` from one
closed-form least-squares fit to training energies and forces, and a per-species
MLP trained on what the linear term misses. :math:`x_i` has unit RMS norm over
the :math:`n` invariants, so its components are ~ :math:`1/\sqrt{n}`; the MLP
reads them scaled to unit mean square. Energies in eV.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from ase_mlham.model.blocks import BlockKey
from ase_mlham.model.inputs import FeatureGroup, GateGroup, feature_group, gate_group, key_name

DTYPE = torch.float64


class BlockHead(nn.Module):
    """Equivariant linear map plus gated nonlinear correction for one block key."""

    def __init__(self, n_features: int, n_channels: int, bias: bool) -> None:
        super().__init__()
        self.linear = nn.Parameter(torch.zeros(n_features, dtype=DTYPE))
        self.gated = nn.Parameter(torch.zeros(n_features, n_channels, dtype=DTYPE))
        self.bias = nn.Parameter(torch.zeros((), dtype=DTYPE)) if bias else None

    def forward(self, features: torch.Tensor, gate: torch.Tensor) -> torch.Tensor:
        """``features`` ``(n, 2 lambda + 1, F)`` (already scaled), ``gate`` ``(n, C)`` -> ``(n, 2 lambda + 1)``."""
        out = features @ self.linear + ((features @ self.gated) * gate[:, None, :]).sum(-1)
        if self.bias is not None:
            out = out + self.bias
        return out


class InvariantGate(nn.Module):
    """Standardised invariants -> ``C`` bounded channels (tanh)."""

    def __init__(self, n_invariants: int, n_channels: int) -> None:
        super().__init__()
        self.register_buffer("mean", torch.zeros(n_invariants, dtype=DTYPE))
        self.register_buffer("scale", torch.ones(n_invariants, dtype=DTYPE))
        self.layer = nn.Linear(n_invariants, n_channels, dtype=DTYPE)
        nn.init.normal_(self.layer.weight, std=1.0 / n_invariants**0.5)

    def forward(self, invariants: torch.Tensor) -> torch.Tensor:
        """``(n, n_invariants)`` -> ``(n, C)``."""
        return torch.tanh(self.layer((invariants - self.mean) / self.scale))


class HamiltonianHead(nn.Module):
    """All block heads, feature scales and gates of the Hamiltonian.

    ``group_sizes`` maps each feature group to ``(n_features, n_invariants)``.
    """

    def __init__(self, keys: list[BlockKey], group_sizes: dict[FeatureGroup, tuple[int, int]],
                 n_channels: int) -> None:
        super().__init__()
        self.keys = list(keys)
        self.heads = nn.ModuleDict()
        self.gates = nn.ModuleDict()
        self.scales = nn.Module()
        for key in self.keys:
            group, gate = feature_group(key), gate_group(key)
            n_features, n_invariants = group_sizes[group]
            self.heads[key_name(key)] = BlockHead(n_features, n_channels, bias=key.kind == "onsite" and key.lam == 0)
            if gate.name not in self.gates:
                self.gates[gate.name] = InvariantGate(n_invariants, n_channels)
            if not hasattr(self.scales, group.name):
                self.scales.register_buffer(group.name, torch.ones(n_features, dtype=DTYPE))

    def scale(self, group: FeatureGroup) -> torch.Tensor:
        """RMS of each feature of a group over the training set, ``(n_features,)``."""
        return getattr(self.scales, group.name)

    def gate(self, group: GateGroup) -> InvariantGate:
        """The invariant gate of a species (pair)."""
        return self.gates[group.name]

    def scaled_features(self, inputs: dict) -> dict[FeatureGroup, torch.Tensor]:
        """Each group's features divided by their training RMS, ``(n, 2 lambda + 1, n_features)``: what
        the linear weights multiply."""
        return {group: value.features / self.scale(group) for group, value in inputs.items()}

    def forward(self, inputs: dict, keys: list[BlockKey] | None = None) -> dict[BlockKey, torch.Tensor]:
        """Coupled block values ``(n, 2 lambda + 1)`` per key from gathered group inputs.

        ``inputs`` maps a :class:`FeatureGroup` to ``(features, invariants)``
        (see :func:`ase_mlham.model.inputs.gather_group_inputs`).
        """
        scaled, gates, values = {}, {}, {}
        for key in keys if keys is not None else self.keys:
            group = feature_group(key)
            if group not in inputs:
                continue
            if group not in scaled:
                scaled[group] = inputs[group].features / self.scale(group)
            # All feature groups of one gate group share samples and order (same kind and
            # species), so each gate is evaluated once, not once per lambda.
            gate_key = gate_group(key)
            if gate_key not in gates:
                gates[gate_key] = self.gate(gate_key)(inputs[group].invariants)
            values[key] = self.heads[key_name(key)](scaled[group], gates[gate_key])
        return values


class EnergyHead(nn.Module):
    r"""Per-species atomic energies (eV) from invariants: offset + linear term + MLP correction.

    Buffers (fitted in closed form before training, fixed afterwards): ``offsets``
    ``(n_species,)`` eV, ``mean`` ``(n_species, n_invariants)``, ``scale``
    ``(n_species,)`` (one RMS of the centred invariants per species: per-feature
    scales would inflate features that barely vary in training and extrapolate
    badly), ``linear`` ``(n_species, n_invariants)`` eV. The MLPs (last layer
    zero at construction) are the trained part. They read the standardised
    invariants times ``sqrt(n_invariants)``: components of unit mean square, so
    that the SiLUs leave their linear regime. Unscaled (components ~0.025 for
    1610 invariants) the MLPs learnt nothing measurable; scaled, on the linear
    term's held-out G2 errors of 39 meV/molecule and 0.111 eV/A they reach 23 and
    0.077 (``benchmarks/energy_network.py``; README, "Energy MLPs").

    **Damped head** (``damped=True``, the correction of a model with an energy baseline): the linear
    term's posterior covariance (last-layer prediction rigidity, LLPR: the inverse of the closed-form
    fit's regularised normal matrix, its diagonal species blocks) is kept as ``covariance``
    ``(n_species, n_invariants, n_invariants)``, and each atom's learned energy :math:`e_i` (linear +
    MLP, not the offset) is damped by its own uncertainty :math:`\sigma_i`:

    .. math:: E_i = \epsilon_{Z_i} + \frac{e_i}{1 + \sigma_i^2 / \tau^2}, \qquad
              \sigma_i^2 = \alpha^2\, x_i^T C_{Z_i} x_i

    with ``uncertainty_scale`` :math:`\alpha` (eV, calibrated on validation molecules) and
    ``damping_width`` :math:`\tau` (eV, chosen on validation molecules; ``inf``: no damping). An atom
    whose environment lies along directions the training data did not constrain gets a large
    :math:`\sigma_i` and its correction fades to the offset: the total energy falls back to the
    baseline (plus per-element offsets). The damping is smooth, so forces stay the exact gradient.
    """

    def __init__(self, species: tuple[int, ...], n_invariants: int, hidden: tuple[int, ...],
                 damped: bool = False) -> None:
        super().__init__()
        self.species = tuple(int(z) for z in species)
        self.network_input_scale = math.sqrt(n_invariants)
        n_species = len(self.species)
        self.damped = bool(damped)
        self.register_buffer("offsets", torch.zeros(n_species, dtype=DTYPE))
        self.register_buffer("mean", torch.zeros(n_species, n_invariants, dtype=DTYPE))
        self.register_buffer("scale", torch.ones(n_species, dtype=DTYPE))
        self.register_buffer("linear", torch.zeros(n_species, n_invariants, dtype=DTYPE))
        if self.damped:
            self.register_buffer("covariance", torch.zeros(n_species, n_invariants, n_invariants, dtype=DTYPE))
            self.register_buffer("uncertainty_scale", torch.zeros((), dtype=DTYPE))
            self.register_buffer("damping_width", torch.full((), math.inf, dtype=DTYPE))
            self.register_buffer("force_uncertainty_scale", torch.zeros((), dtype=DTYPE))
        # hidden == (): no MLPs, the closed-form linear term is the whole learned energy
        self.networks = nn.ModuleList()
        for _ in self.species if hidden else ():
            layers, width = [], n_invariants
            for size in hidden:
                layers += [nn.Linear(width, size, dtype=DTYPE), nn.SiLU()]
                width = size
            last = nn.Linear(width, 1, dtype=DTYPE)
            nn.init.zeros_(last.weight)
            nn.init.zeros_(last.bias)
            self.networks.append(nn.Sequential(*layers, last))

    def standardised(self, invariants: torch.Tensor, species_index: torch.Tensor) -> torch.Tensor:
        """Centred invariants divided by their species' RMS, ``(n_atoms, n_invariants)``."""
        return (invariants - self.mean[species_index]) / self.scale[species_index, None]

    def learned(self, x: torch.Tensor, species_index: torch.Tensor) -> torch.Tensor:
        """Linear term + MLPs of standardised invariants ``x``, ``(n_atoms,)`` eV (offsets not included)."""
        learned = (x * self.linear[species_index]).sum(1)
        network_input = self.network_input_scale * x
        for s, network in enumerate(self.networks):
            atoms = torch.nonzero(species_index == s)[:, 0]
            if len(atoms):
                learned = learned.index_add(0, atoms, network(network_input[atoms])[:, 0])
        return learned

    def atomic_variances(self, x: torch.Tensor, species_index: torch.Tensor) -> torch.Tensor:
        """:math:`x_i^T C_{Z_i} x_i` of standardised invariants ``x``, ``(n_atoms,)`` (dimensionless;
        times ``uncertainty_scale**2`` it is eV^2). Zeros for an undamped head."""
        if not self.damped:
            return torch.zeros(len(x), dtype=x.dtype)
        # species by species: gathering covariance[species_index] would copy an (n_features)^2 matrix per atom
        projected = torch.zeros_like(x)
        for s in range(len(self.species)):
            atoms = torch.nonzero(species_index == s)[:, 0]
            if len(atoms):
                projected = projected.index_copy(0, atoms, x[atoms] @ self.covariance[s])
        return (projected * x).sum(1)

    def atomic_uncertainties(self, invariants: torch.Tensor, species_index: torch.Tensor) -> torch.Tensor:
        r""":math:`\sigma_i = \alpha \sqrt{x_i^T C_{Z_i} x_i}` of each atom's learned energy, ``(n_atoms,)`` eV."""
        x = self.standardised(invariants, species_index)
        return self.uncertainty_scale * self.atomic_variances(x, species_index).clamp_min(0.0).sqrt()

    def force_uncertainties(self, atomic_uncertainties: torch.Tensor, positions: torch.Tensor,
                            cutoff: float, width: float) -> torch.Tensor:
        r"""Per-atom force uncertainty ``(n_atoms,)`` eV/Angstrom, a calibrated proxy:
        :math:`\sigma_{F,j} = eta \sqrt{\sum_i f_c(r_{ij}) \sigma_i^2}` over the atoms within the energy
        descriptor's cutoff (``f_c`` its smooth switch, 1 for ``i = j``), ``force_uncertainty_scale``
        :math:`eta` (1/Angstrom) fitted to validation force errors. An atom's force depends on the
        energies of the atoms whose environments hold it, so it is as uncertain as they are; the exact
        LLPR force variance would need the invariants' full Jacobian at every step."""
        from ase_mlham.descriptors.radial import smooth_cutoff

        distances = torch.cdist(positions, positions)
        weights = smooth_cutoff(distances, cutoff, width)
        return self.force_uncertainty_scale * (weights @ atomic_uncertainties**2).clamp_min(0.0).sqrt()

    def damping(self, x: torch.Tensor, species_index: torch.Tensor) -> torch.Tensor:
        """Factor ``(n_atoms,)`` in (0, 1] on each atom's learned energy; ones for an undamped head."""
        if not self.damped or not torch.isfinite(self.damping_width):
            return torch.ones(len(x), dtype=x.dtype)
        variance = self.uncertainty_scale**2 * self.atomic_variances(x, species_index)
        return 1.0 / (1.0 + variance / self.damping_width**2)

    def forward(self, invariants: torch.Tensor, species_index: torch.Tensor) -> torch.Tensor:
        """``(n_atoms, n_invariants)`` -> atomic energies ``(n_atoms,)``, eV."""
        return self.energies_and_variances(invariants, species_index)[0]

    def energies_and_variances(self, invariants: torch.Tensor, species_index: torch.Tensor
                               ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Atomic energies ``(n_atoms,)`` eV and, for a damped head, :meth:`atomic_variances` ``(n_atoms,)``
        (``None`` otherwise): the damping and the uncertainties need the same ``x_i^T C x_i``, the costliest
        part of the head, so a prediction computes it once."""
        x = self.standardised(invariants, species_index)
        learned = self.learned(x, species_index)
        variances = None
        if self.damped:
            variances = self.atomic_variances(x, species_index)
            if torch.isfinite(self.damping_width):
                learned = learned / (1.0 + self.uncertainty_scale**2 * variances / self.damping_width**2)
        return self.offsets[species_index] + learned, variances

    def energy_uncertainty(self, invariants: torch.Tensor, species_index: torch.Tensor) -> torch.Tensor:
        r"""Uncertainty of the structure's energy correction, eV, ``()``: LLPR of the summed standardised
        invariants of each species, :math:`\alpha^2 \sum_Z X_Z^T C_Z X_Z` with :math:`X_Z = \sum_{i \in Z} x_i`
        (exact within each species block; the blocks between species are not kept). Zero when undamped."""
        if not self.damped:
            return torch.zeros((), dtype=invariants.dtype)
        x = self.standardised(invariants, species_index)
        sums = torch.zeros(len(self.species), x.shape[1], dtype=x.dtype).index_add(0, species_index, x)
        variance = torch.einsum("sf,sfg,sg->", sums, self.covariance, sums)
        return self.uncertainty_scale * variance.clamp_min(0.0).sqrt()
