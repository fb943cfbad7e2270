"""Fitting the committee of Hamiltonians (:mod:`ase_mlham.model.committee`) of a trained model.

1. :func:`fit_path_members` (what ``mlham train`` uses): the closed-form ridge fit of every block key to
   the training frames (:class:`~ase_mlham.training.initialise.NormalEquations`, the fit ``mlham train``
   starts from) at ``n_members`` relative strengths log-spaced over :data:`RIDGE_PATH` (weak to strong);
   member m's perturbation of the key's linear weights is fit m minus the mean of the fits. Where the
   training data pin a block, every strength gives nearly the same block and the members agree; where
   they do not (features or combinations of features the training molecules do not show), weak and
   strong fits part, and so do the members' orbital energies.
2. :func:`calibrate_committee`: one scale per quantity such that the members' spread matches the model's
   errors on validation frames on average (mean squared error / mean variance), for the orbital energies
   (valence and virtual orbitals of the window; core orbitals use the same scale) and the gap. Without
   excitation references in the validation frames the excitation scale is the gap's (an assumption,
   reported as such).
3. :func:`fit_hamiltonian_committee`: 1 and 2.

Measured and not adopted (2026-12-07, ``benchmarks/committee_bootstrap.py``): a **bootstrap over training
molecules** (:func:`molecule_subsets`, :func:`subset_normal_equations`, :func:`fit_bootstrap_members`):
member m the same ridge fit to the frames of a random half of the training molecules. Its gap sigma ranks
the validation molecules' gap errors about as (un)reliably as the path's, by draw and Hamiltonian, and
because each training frame is out of sample for half the members, its sigma on training frames is large,
which raises the default thresholds (95th percentile over training frames) until few unseen molecules are
flagged (docs/explanations/uncertainty.md). A block key that only one training molecule shows gets no
spread at all (every subset holding it fits the same sums; members without it sit at the mean), so the
rarest chemistry is the bootstrap's blind spot.

Why not posterior draws: v13/v14 drew members from the last-layer Laplace posterior (prediction
rigidity). On the 25 validation molecules its gap spread did not rank the gap errors at any of five
regularisations (Spearman -0.5 to 0.27), and it was as large on held-out frames of the training
molecules as on the validation molecules (median 0.9 against 1.3 eV), where the ridge path's was 0.08 on
held-out frames and 0.30 eV on the validation molecules (same model): those errors come from what the
training data leave open, not from weight noise the data average out.
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
from ase_mlham.training.initialise import NormalEquations, key_regularisation

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


def molecule_subsets(molecules: Sequence[str], n_members: int, fraction: float = 0.5,
                     seed: int = 0) -> list[set[str]]:
    """``n_members`` random subsets of ``molecules``, each ``fraction`` of them (at least one), drawn
    without replacement within a subset; reproducible from ``seed``."""
    if not 0 < fraction <= 1:
        raise ValueError(f"the bootstrap fraction must be in (0, 1], got {fraction}")
    names = sorted(set(molecules))
    if not names:
        raise ValueError("the committee needs training frames")
    rng = np.random.default_rng(seed)
    size = max(1, round(fraction * len(names)))
    return [set(rng.choice(names, size, replace=False).tolist()) for _ in range(n_members)]


def subset_normal_equations(model: MLHamModel, frames: Sequence[ReferenceFrame], subsets: Sequence[set[str]],
                            show_progress: bool = False) -> list[NormalEquations]:
    """The ridge sums of the frames of each molecule subset; each frame's features and sums are computed
    once and added to every subset that holds its molecule."""
    parts = [NormalEquations() for _ in subsets]
    bar = ProgressBar(len(frames), "committee (training frames)", enabled=show_progress)
    for frame in frames:
        holders = [part for subset, part in zip(subsets, parts) if frame.molecule in subset]
        if holders:
            one = normal_equations(model, [frame])
            for part in holders:
                part.merge(one)
        bar.update(1)
    return parts


def fit_bootstrap_members(model: MLHamModel, parts: Sequence[NormalEquations], regularisation: float,
                          pair_regularisation: float | None = None) -> None:
    """Fill the committee's perturbations, ``(n_members, n_features)`` per key, from one fit per molecule
    subset (the module docstring's bootstrap):
    ``regularisation`` for on-site keys, ``pair_regularisation`` (default: the same) for pair keys, as
    :func:`~ase_mlham.training.initialise.ridge_initialise`. A subset without a key takes the mean fit (no
    perturbation); keys no subset has get zero perturbations."""
    committee = model.committee
    if len(parts) != committee.n_members:
        raise ValueError(f"{len(parts)} subsets for a committee of {committee.n_members} members")
    for key in committee.keys:
        samples = committee.weights(key)
        strength = key_regularisation(key, regularisation, pair_regularisation)
        fits = [part.solve(key, strength)[:samples.shape[1]] if key in part.gram else None for part in parts]
        present = [fit for fit in fits if fit is not None]
        if not present:
            samples.zero_()
            continue
        mean = torch.stack(present).mean(0)  # the bias, last, is not perturbed
        samples.copy_(torch.stack([(mean if fit is None else fit) - mean for fit in fits]))


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
        members = prediction.member_orbital_energies
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
