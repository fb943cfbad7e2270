"""Fitting the committee of Hamiltonians (:mod:`ase_mlham.model.committee`) of a trained model.

1. :func:`gauss_newton_blocks`: per block key, :math:`\\sum_\\text{frames} \\sum_k w_k \\phi_k \\phi_k^T` with
   :math:`\\phi_k = \\partial \\varepsilon_k / \\partial w_\\text{key}` over the training frames (the loss
   weights :math:`w_k` of training: ``core_weight`` for the C/N/O 1s orbitals, 1 otherwise).
2. :func:`draw_members`: for a relative regularisation, ``n_members`` draws from each key's posterior.
3. :func:`calibrate_committee`: one scale per quantity such that the members' spread matches the model's
   errors on validation frames on average (mean squared error / mean variance), for the orbital energies
   (valence and virtual orbitals of the window; core orbitals use the same scale) and the gap. Without
   excitation references in the validation frames the excitation scale is the gap's (an assumption,
   reported as such).
4. :func:`fit_hamiltonian_committee`: 1-3 for several regularisations; keeps the one with the lowest
   Gaussian negative log-likelihood of the validation orbital energies after calibration.
"""

from __future__ import annotations

import math
from typing import Iterable, Sequence

import numpy as np
import torch

from ase_mlham.data.dataset import ReferenceFrame
from ase_mlham.metrics import number_of_core_orbitals
from ase_mlham.model.blocks import BlockKey, assemble, block_layout, block_samples
from ase_mlham.model.inputs import feature_group, gather_group_inputs, unordered_pairs
from ase_mlham.model.model import MLHamModel
from ase_mlham.progress import ProgressBar
from ase_mlham.training.prepare import orbital_weights

#: Relative regularisations tried by :func:`fit_hamiltonian_committee`.
REGULARISATIONS = (1e-4, 1e-2, 1e-1, 1.0, 10.0)


def _hamiltonian_inputs(model: MLHamModel, frame: ReferenceFrame):
    with torch.no_grad():
        features = model.features(frame.numbers, torch.tensor(frame.positions, dtype=torch.float64))
        pairs = unordered_pairs(features)
        inputs = gather_group_inputs(features, block_samples(frame.numbers, pairs))
    return inputs, block_layout([frame.numbers], [pairs])


def gauss_newton_blocks(model: MLHamModel, frames: Iterable[ReferenceFrame], core_weight: float,
                        show_progress: bool = False, total: int | None = None) -> dict[BlockKey, torch.Tensor]:
    """Per key, the ``(n_features, n_features)`` Gauss-Newton matrix of the weighted eigenvalue loss."""
    head = model.hamiltonian_head
    matrices: dict[BlockKey, torch.Tensor] = {}
    bar = ProgressBar(total or 0, "committee (training frames)", enabled=show_progress and bool(total))
    for frame in frames:
        inputs, layout = _hamiltonian_inputs(model, frame)
        with torch.no_grad():
            values = {key: value.detach().requires_grad_(True) for key, value in head(inputs).items()}
        with torch.enable_grad():
            energies = torch.linalg.eigvalsh(assemble(values, layout)[0])
            n_orbitals = len(energies)
            gradients = torch.autograd.grad(energies, list(values.values()),
                                            grad_outputs=torch.eye(n_orbitals, dtype=energies.dtype),
                                            is_grads_batched=True)
        weights = orbital_weights(frame, core_weight)  # (n_min,) = (n_orbitals,)
        scaled = head.scaled_features(inputs)
        for key, gradient in zip(values, gradients):
            phi = torch.einsum("knm,nmf->kf", gradient, scaled[feature_group(key)])
            update = phi.T @ (weights[:, None] * phi)
            matrices[key] = matrices[key] + update if key in matrices else update
        bar.update(1)
    return matrices


def draw_members(model: MLHamModel, matrices: dict[BlockKey, torch.Tensor], regularisation: float,
                 seed: int = 0) -> None:
    """Fill the committee's samples: per key :math:`L z`, :math:`L L^T = (A + \\lambda \\bar{A} I)^{-1}`
    (:math:`\\bar A` the mean diagonal of :math:`A`); keys never seen in training get zero samples."""
    committee = model.committee
    generator = torch.Generator().manual_seed(seed)
    for key in committee.keys:
        samples = committee.weights(key)
        if key not in matrices:
            samples.zero_()
            continue
        matrix = matrices[key]
        ridge = regularisation * float(torch.diagonal(matrix).mean().clamp_min(1e-12))
        precision = matrix + ridge * torch.eye(len(matrix), dtype=matrix.dtype)
        # z ~ N(0, 1); solving L_p^T x = z with the Cholesky factor L_p of the precision gives x ~ N(0, A^-1)
        factor = torch.linalg.cholesky(precision)
        z = torch.randn(len(matrix), committee.n_members, dtype=matrix.dtype, generator=generator)
        samples.copy_(torch.linalg.solve_triangular(factor.T, z, upper=True).T)


def _validation_spreads(model: MLHamModel, frames: Sequence[ReferenceFrame]):
    """Per frame: model errors and member standard deviations of the non-core window orbitals and the gap."""
    rows = []
    for frame in frames:
        prediction = model.predict(frame.numbers, frame.positions, forces=False)
        members = torch.linalg.eigvalsh(prediction.member_hamiltonians)
        predicted, n, nocc = prediction.orbital_energies, frame.n_min, frame.nocc
        core = number_of_core_orbitals(frame.numbers)
        target = torch.tensor(frame.mo_target)
        orbital_errors = (predicted[core:n] - target[core:n]).numpy()
        orbital_spread = members[:, core:n].std(0).numpy()
        gap_error = float((predicted[nocc] - predicted[nocc - 1]) - (target[nocc] - target[nocc - 1]))
        gap_spread = float((members[:, nocc] - members[:, nocc - 1]).std())
        rows.append((orbital_errors, orbital_spread, gap_error, gap_spread))
    return rows


def calibrate_committee(model: MLHamModel, frames: Sequence[ReferenceFrame]) -> dict:
    """Set the committee's scales from validation frames (see the module docstring); returns the numbers."""
    committee = model.committee
    rows = _validation_spreads(model, frames)
    orbital_errors = np.concatenate([r[0] for r in rows])
    orbital_spread = np.concatenate([r[1] for r in rows])
    gap_errors = np.array([r[2] for r in rows])
    gap_spread = np.array([r[3] for r in rows])
    orbital_scale = math.sqrt(np.mean(orbital_errors**2) / max(np.mean(orbital_spread**2), 1e-300))
    gap_scale = math.sqrt(np.mean(gap_errors**2) / max(np.mean(gap_spread**2), 1e-300))
    committee.orbital_scale.fill_(orbital_scale)
    committee.gap_scale.fill_(gap_scale)
    committee.excitation_scale.fill_(gap_scale)
    sigma = np.maximum(orbital_scale * orbital_spread, 1e-12)
    nll = float(np.mean(np.log(sigma) + 0.5 * (orbital_errors / sigma) ** 2))
    return {"orbital_scale": orbital_scale, "gap_scale": gap_scale,
            "excitation_scale": "the gap's (no excitation references among the validation frames)",
            "orbital_nll": nll, "validation_frames": len(frames)}


def fit_hamiltonian_committee(model: MLHamModel, train_frames: Sequence[ReferenceFrame],
                              validation_frames: Sequence[ReferenceFrame], core_weight: float,
                              seed: int = 0, show_progress: bool = False) -> dict:
    """Gauss-Newton blocks on the training frames, then members and calibration for each of
    :data:`REGULARISATIONS`; keeps the best by validation NLL. Returns what was measured."""
    if model.committee is None:
        raise ValueError("the model has no committee (ModelSettings.hamiltonian_members is 0)")
    matrices = gauss_newton_blocks(model, train_frames, core_weight, show_progress, len(train_frames))
    trials = []
    for regularisation in REGULARISATIONS:
        draw_members(model, matrices, regularisation, seed)
        trials.append({"regularisation": regularisation, **calibrate_committee(model, validation_frames)})
    best = min(trials, key=lambda trial: trial["orbital_nll"])
    draw_members(model, matrices, best["regularisation"], seed)
    calibrate_committee(model, validation_frames)
    return {"n_members": model.committee.n_members, "chosen": best, "trials": trials}
