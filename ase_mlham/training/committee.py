"""Fitting the committee of Hamiltonians (:mod:`ase_mlham.model.committee`) of a trained model.

1. :func:`fit_path_members`: the closed-form ridge fit of every block key to the training frames
   (:class:`~ase_mlham.training.initialise.NormalEquations`, the fit ``mlham train`` starts from) at
   ``n_members`` relative strengths log-spaced over :data:`RIDGE_PATH` (weak to strong); member m's
   perturbation of the key's linear weights is fit m minus the mean of the fits. Where the training
   data pin a block, every strength gives nearly the same block and the members agree; where they
   do not (features or combinations of features the training molecules do not show), weak and strong
   fits part, and so do the members' orbital energies.
2. :func:`calibrate_committee`: one scale per quantity such that the members' spread matches the model's
   errors on validation frames on average (mean squared error / mean variance), for the orbital energies
   (valence and virtual orbitals of the window; core orbitals use the same scale) and the gap. Without
   excitation references in the validation frames the excitation scale is the gap's (an assumption,
   reported as such).
3. :func:`fit_hamiltonian_committee`: 1 and 2.

Why a path and not posterior draws: v13/v14 drew members from the last-layer Laplace posterior
(prediction rigidity). On the 25 validation molecules its gap spread did not rank the gap errors at
any of five regularisations (Spearman -0.5 to 0.27), and it was as large on held-out frames of the
training molecules as on the validation molecules (median 0.9 against 1.3 eV): those errors come from
what the training data leave open, not from weight noise the data average out. The spread of the
ridge path was 0.30 eV (median) on the validation molecules and 0.08 on held-out frames
(one-off measurements on v14, described in docs/explanations/uncertainty.md).
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np
import torch

from ase_mlham.data.dataset import ReferenceFrame
from ase_mlham.metrics import number_of_core_orbitals
from ase_mlham.model.blocks import block_samples
from ase_mlham.model.inputs import gather_group_inputs, unordered_pairs
from ase_mlham.model.model import MLHamModel
from ase_mlham.progress import ProgressBar
from ase_mlham.training.initialise import NormalEquations

#: Weakest and strongest relative ridge strength of the members' fits (relative to each key's mean feature
#: variance; mlham train starts from 1e-2 on-site and 1e-4 for pairs).
RIDGE_PATH = (1e-6, 1e-1)


def ridge_strengths(n_members: int) -> np.ndarray:
    """The members' relative ridge strengths, ``(n_members,)``, log-spaced over :data:`RIDGE_PATH`."""
    return np.logspace(math.log10(RIDGE_PATH[0]), math.log10(RIDGE_PATH[1]), n_members)


def normal_equations(model: MLHamModel, frames: Sequence[ReferenceFrame], show_progress: bool = False
                     ) -> NormalEquations:
    """The ridge sums of every block key over ``frames`` (features of ``model``'s descriptor)."""
    equations = NormalEquations()
    bar = ProgressBar(len(frames), "committee (training frames)", enabled=show_progress)
    for frame in frames:
        with torch.no_grad():
            features = model.features(frame.numbers, torch.tensor(frame.positions, dtype=torch.float64))
            pairs = unordered_pairs(features)
            inputs = gather_group_inputs(features, block_samples(frame.numbers, pairs))
        equations.add(model, frame, pairs, inputs)
        bar.update(1)
    return equations


def fit_path_members(model: MLHamModel, equations: NormalEquations) -> np.ndarray:
    """Fill the committee's perturbations from the ridge path (module docstring, step 1); keys never
    seen in training get zero perturbations. Returns the strengths."""
    committee = model.committee
    strengths = ridge_strengths(committee.n_members)
    for key in committee.keys:
        samples = committee.weights(key)
        if key not in equations.gram:
            samples.zero_()
            continue
        fits = torch.stack([equations.solve(key, float(strength)) for strength in strengths])
        fits = fits[:, :samples.shape[1]]  # the bias, last, is not perturbed
        samples.copy_(fits - fits.mean(0))
    return strengths


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
                              validation_frames: Sequence[ReferenceFrame], show_progress: bool = False,
                              equations: NormalEquations | None = None) -> dict:
    """Path members from the training frames, scales from the validation frames; returns what was measured.

    ``equations``: the training frames' "adjusted" ridge sums when the caller has them already (the
    closed-form start computes the same ones); otherwise computed here."""
    if model.committee is None:
        raise ValueError("the model has no committee (ModelSettings.hamiltonian_members is 0)")
    if equations is None:
        equations = normal_equations(model, train_frames, show_progress)
    strengths = fit_path_members(model, equations)
    return {"n_members": model.committee.n_members, "method": "ridge path",
            "ridge_strengths": [float(x) for x in strengths], **calibrate_committee(model, validation_frames)}
