"""Closed-form starting point: normalisations, energy offsets and a ridge fit of the Hamiltonian blocks.

The ridge target of each frame is a minimal-basis Hamiltonian in the
Löwdin-orthogonal basis, either

* ``"sto3g"``: the B3LYP/STO-3G Kohn-Sham matrix :math:`S^{-1/2} F S^{-1/2}`, or
* ``"adjusted"`` (default): the same eigenvectors with the large-basis target
  energies as eigenvalues, :math:`C' \\operatorname{diag}(\\varepsilon^{TZVP}_{1..N_{min}}) C'^T`,

so that the initial model already has nearly the right spectrum and the
eigenvalue loss only refines it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np
import torch

from ase_mlham.data.dataset import ReferenceFrame
from ase_mlham.model.blocks import BlockKey, hamiltonian_to_blocks
from ase_mlham.model.heads import EnergyHead, HamiltonianHead
from ase_mlham.model.inputs import feature_group, gate_group, key_name
from ase_mlham.model.model import MLHamModel
from ase_mlham.training.prepare import FrameInputs

INIT_TARGETS = ("adjusted", "sto3g", "none")

#: Frames whose least-squares rows are stacked into one update of the energy head's normal matrix.
_FRAMES_PER_UPDATE = 64


def fit_feature_scales(model: MLHamModel, items: Sequence[FrameInputs]) -> None:
    """One RMS per feature group over the training frames (a buffer of the Hamiltonian head).

    A single scale per group, not per feature: scaling each feature to unit RMS
    would blow up features that are rare in training (an unusual neighbour
    channel), and a molecule where they are common then gets huge block values.
    """
    head = model.hamiltonian_head
    squares: dict = {}
    counts: dict = {}
    for item in items:
        for group, inputs in item.groups.items():
            squares[group] = squares.get(group, 0.0) + (inputs.features**2).sum(dim=(0, 1))
            counts[group] = counts.get(group, 0) + inputs.features.shape[0] * inputs.features.shape[1]
    for group in squares:
        rms = float(torch.sqrt(squares[group].sum() / (counts[group] * len(squares[group]))))
        head.scale(group).fill_(rms if rms > 1e-12 else 1.0)


def fit_gates(model: MLHamModel, items: Sequence[FrameInputs]) -> None:
    """Mean and standard deviation of each gate's invariants over the training frames."""
    collected: dict = {}
    for key in model.keys:
        group, gate = feature_group(key), gate_group(key)
        if gate in collected:
            continue
        parts = [item.groups[group].invariants for item in items if group in item.groups]
        if parts:
            collected[gate] = torch.cat(parts)
    for gate, invariants in collected.items():
        module = model.hamiltonian_head.gate(gate)
        module.mean.copy_(invariants.mean(0))
        std = invariants.std(0) if len(invariants) > 1 else torch.ones_like(invariants[0])
        module.scale.copy_(torch.where(std > 1e-12, std, torch.ones_like(std)))


def fit_energy_standardisation(head: EnergyHead, invariants: torch.Tensor, species_index: torch.Tensor) -> None:
    """Per species, the mean ``(n_invariants,)`` and the single RMS norm of the centred invariants.

    ``invariants`` ``(n_atoms, n_invariants)`` of the training atoms, ``species_index``
    ``(n_atoms,)``; species without atoms keep mean 0 and scale 1.
    """
    for s in range(len(head.species)):
        own = invariants[species_index == s]
        if len(own) == 0:
            continue
        mean = own.mean(0)
        rms = float(((own - mean) ** 2).sum(1).mean().sqrt())
        head.mean[s].copy_(mean)
        head.scale[s] = rms if rms > 1e-12 else 1.0


def fit_energy_head(model: MLHamModel, items: Sequence[FrameInputs], regularisation: float = 1e-10,
                    jacobian: Callable[[FrameInputs], torch.Tensor] | None = None, energy_weight: float = 1.0) -> None:
    """Closed-form start of the energy head from training energies and forces.

    Sets, per species, the mean and the single RMS of the invariants, then the
    offsets and linear weights by least squares on every training energy (eV)
    and force component (eV/Angstrom, through ``item.jacobian``, which must be
    set) of the head's targets (``item.energy``, ``item.forces``).
    ``regularisation`` (relative to the mean diagonal of the normal
    matrix) damps the linear weights only; the MLPs, zero at this point, then
    learn what the linear term misses. A damped head (a baseline model's) also
    gets the species blocks of the inverse regularised normal matrix as its
    ``covariance`` (LLPR, :class:`~ase_mlham.model.heads.EnergyHead`).
    ``jacobian(item)``, when given, supplies the Jacobian of a frame that has none
    stored, so that the frames' Jacobians need not all be held at once.
    ``energy_weight`` weighs each frame's squared energy error (eV^2) against one
    squared force component ((eV/Angstrom)^2): with 1, the 3 n_atoms force rows of a
    frame outweigh its single energy row.
    """
    head = model.energy_head
    n_species, n_invariants = head.mean.shape
    fit_energy_standardisation(head, torch.cat([item.invariants for item in items]),
                               torch.cat([item.species_index for item in items]))
    n_weights = n_species * n_invariants
    normal = torch.zeros(n_weights + n_species, n_weights + n_species, dtype=torch.float64)
    moment = torch.zeros(n_weights + n_species, dtype=torch.float64)
    # A frame's rows are zero in the columns of species it lacks, so frames are grouped by the species
    # they contain and each group fills only its own columns; rows are stacked so that every update of
    # the normal matrix is one large product (a rank-(3 n_atoms + 1) update per frame is memory-bound).
    by_species: dict[tuple[int, ...], list[FrameInputs]] = {}
    for item in items:
        if item.jacobian is None and jacobian is None:
            raise ValueError("fit_energy_head needs the invariant Jacobians (training.prepare.invariant_jacobian)")
        by_species.setdefault(tuple(torch.unique(item.species_index).tolist()), []).append(item)
    for present, group in by_species.items():
        columns = torch.cat([torch.arange(s * n_invariants, (s + 1) * n_invariants) for s in present]
                            + [n_weights + torch.tensor(present)])
        for start in range(0, len(group), _FRAMES_PER_UPDATE):
            rows, targets = zip(*(_least_squares_rows(head, item, present, jacobian, energy_weight)
                                  for item in group[start:start + _FRAMES_PER_UPDATE]))
            rows, targets = torch.cat(rows), torch.cat(targets)
            normal.index_put_((columns[:, None], columns[None, :]), rows.T @ rows, accumulate=True)
            moment.index_add_(0, columns, rows.T @ targets)
    penalty = torch.zeros(n_weights + n_species, dtype=torch.float64)
    penalty[:n_weights] = regularisation * torch.diagonal(normal)[:n_weights].mean().clamp_min(1e-12)
    # species absent from training: their columns are zero; pin their weights and offsets at 0
    absent = torch.diagonal(normal) == 0
    penalty[absent] = 1.0
    matrix = normal + torch.diag(penalty)
    # symmetric positive definite: Cholesky costs half of LU; rounding can defeat it at tiny regularisation
    factor, info = torch.linalg.cholesky_ex(matrix)
    if int(info) == 0:
        solution = torch.cholesky_solve(moment[:, None], factor)[:, 0]
    else:
        solution = torch.linalg.solve(matrix, moment)
    head.linear.copy_(solution[:n_weights].reshape(n_species, n_invariants))
    head.offsets.copy_(solution[n_weights:])
    if head.damped:
        inverse = torch.cholesky_inverse(factor) if int(info) == 0 else torch.linalg.inv(matrix)
        for s in range(n_species):
            block = slice(s * n_invariants, (s + 1) * n_invariants)
            head.covariance[s].copy_(inverse[block, block])


def _least_squares_rows(head: EnergyHead, item: FrameInputs, present: tuple[int, ...],
                        jacobian_of: Callable[[FrameInputs], torch.Tensor] | None = None,
                        energy_weight: float = 1.0) -> tuple[torch.Tensor, torch.Tensor]:
    """Rows of the energy head's linear least-squares problem for one frame.

    Columns: the linear weights of each species in ``present`` (``len(present) * n_invariants``),
    then their offsets. Rows: the energy (eV), then the ``3 n_atoms`` force components
    (eV/Angstrom). Returns the ``(1 + 3 n_atoms, n_columns)`` matrix and the ``(1 + 3 n_atoms,)``
    targets.
    """
    species_index, n_atoms = item.species_index, len(item.species_index)
    local = torch.searchsorted(torch.tensor(present), species_index)  # species -> position in ``present``
    onehot = torch.nn.functional.one_hot(local, len(present)).to(torch.float64)
    standardised = head.standardised(item.invariants, species_index)
    jacobian = item.jacobian if item.jacobian is not None else jacobian_of(item)
    jacobian = jacobian / head.scale[species_index, None, None, None]
    energy_row = torch.cat([torch.einsum("as,af->sf", onehot, standardised).reshape(-1), onehot.sum(0)])
    force_rows = torch.cat([-torch.einsum("as,afbx->bxsf", onehot, jacobian).reshape(3 * n_atoms, -1),
                            torch.zeros(3 * n_atoms, len(present), dtype=torch.float64)], dim=1)
    forces = torch.tensor(item.forces, dtype=torch.float64).reshape(-1)
    scale = energy_weight ** 0.5
    targets = torch.cat([torch.tensor([scale * item.energy], dtype=torch.float64), forces])
    return torch.cat([scale * energy_row[None], force_rows]), targets


def ridge_target(frame: ReferenceFrame, target: str) -> torch.Tensor:
    """The Löwdin-orthogonal Hamiltonian a frame's blocks are fitted to, ``(n_min, n_min)`` eV."""
    eigenvalues, vectors = np.linalg.eigh(frame.sto3g_overlap)
    inverse_sqrt = vectors @ np.diag(eigenvalues**-0.5) @ vectors.T
    fock = inverse_sqrt @ frame.sto3g_fock @ inverse_sqrt
    if target == "adjusted":
        _, orbitals = np.linalg.eigh(fock)
        fock = orbitals @ np.diag(frame.mo_target) @ orbitals.T
    return torch.as_tensor((fock + fock.T) / 2)


def design_rows(head: HamiltonianHead, key: BlockKey, groups: dict) -> torch.Tensor:
    """Rows of the ridge fit's design matrix for ``key``: the group's features divided by their training
    RMS (what a head's ``linear`` multiplies), ``(n * (2 lambda + 1), n_features)``, plus a last column of
    ones (the bias) for on-site lambda = 0 keys."""
    group = feature_group(key)
    x = (groups[group].features / head.scale(group)).reshape(-1, head.scale(group).shape[0])
    if key.kind == "onsite" and key.lam == 0:
        x = torch.cat([x, torch.ones(len(x), 1, dtype=x.dtype)], dim=1)
    return x


@dataclass
class NormalEquations:
    """Per block key, the ridge fit's sums over training blocks: :math:`X^T X`, :math:`X^T y`,
    :math:`y^T y` and the number of values. ``X`` holds the scaled features (what a head's ``linear``
    multiplies) and, for on-site lambda = 0 keys, a last column of ones (the bias)."""

    gram: dict[BlockKey, torch.Tensor] = field(default_factory=dict)
    moment: dict[BlockKey, torch.Tensor] = field(default_factory=dict)
    norm: dict[BlockKey, float] = field(default_factory=dict)
    count: dict[BlockKey, int] = field(default_factory=dict)

    def add(self, model: MLHamModel, frame: ReferenceFrame, pairs: torch.Tensor, groups: dict,
            target: str = "adjusted") -> None:
        """Add one frame: its blocks of :func:`ridge_target` against its gathered group inputs."""
        head = model.hamiltonian_head
        blocks = hamiltonian_to_blocks(ridge_target(frame, target), frame.numbers, pairs)
        for key, values in blocks.values.items():
            x = design_rows(head, key, groups)
            y = values.reshape(-1)
            self.gram[key] = self.gram.get(key, 0.0) + x.T @ x
            self.moment[key] = self.moment.get(key, 0.0) + x.T @ y
            self.norm[key] = self.norm.get(key, 0.0) + float(y @ y)
            self.count[key] = self.count.get(key, 0) + len(y)

    def merge(self, other: "NormalEquations") -> None:
        """Add the sums of ``other`` (frames it holds join this one's)."""
        for key in other.gram:
            self.gram[key] = self.gram.get(key, 0.0) + other.gram[key]
            self.moment[key] = self.moment.get(key, 0.0) + other.moment[key]
            self.norm[key] = self.norm.get(key, 0.0) + other.norm[key]
            self.count[key] = self.count.get(key, 0) + other.count[key]

    def solve(self, key: BlockKey, regularisation: float) -> torch.Tensor:
        """Ridge weights of ``key`` (the bias last for on-site lambda = 0 keys), ``regularisation``
        relative to the mean diagonal of the features' part of :math:`X^T X`. The bias is not
        penalised: it is an intercept (the shell's mean level, -270 eV for a C 1s), and shrinking it
        would move every orbital of the shell, core levels by eV at strong ridge."""
        a, b = self.gram[key], self.moment[key]
        penalty = torch.ones(len(a), dtype=a.dtype)
        if key.kind == "onsite" and key.lam == 0:
            penalty[-1] = 0.0
        ridge = regularisation * torch.diagonal(a)[penalty > 0].mean().clamp_min(1e-12)
        return torch.linalg.solve(a + ridge * torch.diag(penalty), b)

    def rmse(self, key: BlockKey, weights: torch.Tensor) -> float:
        """Training RMSE (eV) of ``weights`` for ``key``."""
        a, b = self.gram[key], self.moment[key]
        residual = self.norm[key] - 2 * float(weights @ b) + float(weights @ a @ weights)
        return float(np.sqrt(max(residual, 0.0) / self.count[key]))


def key_regularisation(key: BlockKey, regularisation: float, pair_regularisation: float | None) -> float:
    """The ridge strength of ``key``: ``pair_regularisation`` for two-centre (pair) keys when given, else
    ``regularisation``."""
    return regularisation if key.kind == "onsite" or pair_regularisation is None else pair_regularisation


def item_normal_equations(model: MLHamModel, items: Sequence[FrameInputs], target: str = "adjusted"
                          ) -> NormalEquations:
    """:class:`NormalEquations` of prepared frames for the ridge ``target``."""
    equations = NormalEquations()
    for item in items:
        equations.add(model, item.frame, item.pairs, item.groups, target)
    return equations


def ridge_initialise(model: MLHamModel, items: Sequence[FrameInputs], target: str = "adjusted",
                     regularisation: float = 1e-6, pair_regularisation: float | None = None,
                     equations: NormalEquations | None = None) -> dict[BlockKey, float]:
    """Set each block head's linear weights (and on-site bias) by ridge regression
    (:meth:`NormalEquations.solve`).

    ``regularisation`` is relative to the mean diagonal of :math:`X^T X`; ``pair_regularisation``
    (default: the same) replaces it for the two-centre (pair) blocks, whose features reach pairs
    of atoms at distances and in environments the training molecules may not show, while the
    on-site blocks (core levels included) are fitted to every atom. ``equations``: the sums of ``items``
    for ``target`` when the caller has them already (:func:`item_normal_equations`). Returns the
    training RMSE (eV) of each key's fit.
    """
    if target not in INIT_TARGETS:
        raise ValueError(f"init target must be one of {INIT_TARGETS}, got {target!r}")
    if target == "none":
        return {}
    if equations is None:
        equations = item_normal_equations(model, items, target)
    errors = {}
    for key in equations.gram:
        strength = key_regularisation(key, regularisation, pair_regularisation)
        weights = equations.solve(key, strength)
        module = model.hamiltonian_head.heads[key_name(key)]
        with torch.no_grad():
            if module.bias is not None:
                module.linear.copy_(weights[:-1])
                module.bias.copy_(weights[-1])
            else:
                module.linear.copy_(weights)
        errors[key] = equations.rmse(key, weights)
    return errors
