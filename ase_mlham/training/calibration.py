"""Calibration of a damped energy head on validation frames: uncertainty scale, then damping width.

Both are chosen on the validation frames (whole molecules never trained on, ``mlham train
--validation DB``), never on test frames:

1. ``uncertainty_scale`` :math:`\\alpha` (eV): the LLPR variance of each frame's energy correction,
   :math:`v_f` (:meth:`~ase_mlham.model.heads.EnergyHead.energy_uncertainty` with
   :math:`\\alpha = 1`), times :math:`\\alpha^2` matches the squared errors of the undamped correction
   on average, :math:`\\alpha^2 = \\langle \\Delta E_f^2 / v_f \\rangle`.
2. ``damping_width`` :math:`\\tau` (eV): of :data:`DAMPING_WIDTHS`, the one with the lowest validation
   score, energy MAE per atom (eV) + force MAE (eV/Angstrom), the absolute-error form of the training
   loss. ``inf`` (no damping) is a candidate, so damping is only used where it helps unseen molecules.
"""

from __future__ import annotations

import math
from typing import Sequence

import torch

from ase_mlham.model.model import MLHamModel
from ase_mlham.training.prepare import FrameInputs

#: How much worse (relative) the damped correction may make the forces of training frames.
FAMILIAR_TOLERANCE = 0.05

#: Candidate damping widths, eV (``inf``: no damping).
DAMPING_WIDTHS = (math.inf, 3.0, 1.0, 0.5, 0.3, 0.2, 0.1, 0.05, 0.03, 0.02, 0.01, 0.005)


def head_energy_forces(model: MLHamModel, item: FrameInputs) -> tuple[float, torch.Tensor]:
    """The energy head's energy (eV) and forces (``(n_atoms, 3)`` eV/Angstrom) of a frame, through its
    stored invariant Jacobian (``item.jacobian``)."""
    invariants = item.invariants.detach().clone().requires_grad_(True)
    with torch.enable_grad():
        energy = model.energy_head(invariants, item.species_index).sum()
        (gradient,) = torch.autograd.grad(energy, invariants)
    forces = -torch.einsum("af,afcx->cx", gradient, item.jacobian)
    return float(energy.detach()), forces.detach()


def _errors(model: MLHamModel, items: Sequence[FrameInputs]) -> tuple[float, float]:
    """Energy MAE per atom (eV) and force MAE (eV/Angstrom) of the energy head on frames with Jacobians."""
    energy_errors, force_errors, n_components = 0.0, 0.0, 0
    for item in items:
        energy, forces = head_energy_forces(model, item)
        energy_errors += abs(energy - item.energy) / len(item.species_index)
        force_errors += float((forces - torch.as_tensor(item.forces)).abs().sum())
        n_components += forces.numel()
    return energy_errors / len(items), force_errors / n_components


def calibrate_energy_head(model: MLHamModel, items: Sequence[FrameInputs],
                          familiar: Sequence[FrameInputs] = ()) -> dict:
    """Set a damped energy head's ``uncertainty_scale``, ``damping_width`` and ``force_uncertainty_scale``
    from validation frames ``items`` and a sample of training frames ``familiar`` (both with Jacobians);
    returns what was measured (JSON-ready) for the model's metadata."""
    head = model.energy_head
    if not head.damped:
        raise ValueError("only a damped energy head (a model with an energy baseline) is calibrated")
    if not items:
        raise ValueError("calibrating the energy head needs validation frames")
    with torch.no_grad():
        head.damping_width.fill_(math.inf)
        head.uncertainty_scale.fill_(1.0)
        ratios = []
        for item in items:
            error = float(head(item.invariants, item.species_index).sum()) - item.energy
            variance = float(head.energy_uncertainty(item.invariants, item.species_index)) ** 2
            ratios.append(error**2 / max(variance, 1e-300))
        head.uncertainty_scale.fill_(math.sqrt(sum(ratios) / len(ratios)))
    table = []
    for width in DAMPING_WIDTHS:
        head.damping_width.fill_(width)
        energy_mae, force_mae = _errors(model, items)
        row = {"damping_width_eV": width, "energy_mae_eV_per_atom": energy_mae, "forces_mae_eV_per_A": force_mae,
               "score": energy_mae + force_mae}
        if familiar:
            row["training_forces_mae_eV_per_A"] = _errors(model, familiar)[1]
        table.append(row)
    limit = (1 + FAMILIAR_TOLERANCE) * table[0].get("training_forces_mae_eV_per_A", math.inf)
    allowed = [row for row in table if row.get("training_forces_mae_eV_per_A", 0.0) <= limit]
    best = min(allowed, key=lambda row: row["score"])
    head.damping_width.fill_(best["damping_width_eV"])
    # force uncertainty proxy: beta^2 = mean squared force error per component / mean squared proxy per atom
    settings = model.settings.energy_descriptor or model.settings.descriptor
    squared_errors, squared_proxies = 0.0, 0.0
    head.force_uncertainty_scale.fill_(1.0)
    for item in items:
        _, forces = head_energy_forces(model, item)
        with torch.no_grad():
            proxy = head.force_uncertainties(head.atomic_uncertainties(item.invariants, item.species_index),
                                             torch.tensor(item.frame.positions), settings.cutoff,
                                             settings.cutoff_width)
        squared_errors += float(((forces - torch.as_tensor(item.forces)) ** 2).sum()) / 3
        squared_proxies += float((proxy**2).sum())
    head.force_uncertainty_scale.fill_(math.sqrt(squared_errors / max(squared_proxies, 1e-300)))
    return {"uncertainty_scale_eV": float(head.uncertainty_scale), "damping_width_eV": best["damping_width_eV"],
            "force_uncertainty_scale_per_A": float(head.force_uncertainty_scale),
            "validation_frames": len(items), "training_frames_checked": len(familiar), "damping_widths": table}


#: Quantile of the uncertainties on training frames above which a structure is flagged by default.
THRESHOLD_QUANTILE = 0.95


def prediction_uncertainties(prediction) -> dict[str, float]:
    """One prediction's uncertainties as the calculator's thresholds read them: energy (eV), the largest
    per-atom forces σ (eV/A) and the gap (eV); quantities the model lacks are left out."""
    found = {}
    if prediction.energy_uncertainty is not None:
        found["energy"] = float(prediction.energy_uncertainty)
        found["forces"] = float(prediction.forces_uncertainty.max())
    if prediction.gap_uncertainty is not None:
        found["gap"] = float(prediction.gap_uncertainty)
    return found


def uncertainty_values(model: MLHamModel, frames: Sequence) -> dict[str, list[float]]:
    """Per quantity, :func:`prediction_uncertainties` of each frame; quantities the model lacks are empty."""
    values: dict[str, list[float]] = {"energy": [], "forces": [], "gap": []}
    for frame in frames:
        for name, value in prediction_uncertainties(model.predict(frame.numbers, frame.positions,
                                                                  forces=False)).items():
            values[name].append(value)
    return values


def default_thresholds(model: MLHamModel, frames: Sequence, quantile: float = THRESHOLD_QUANTILE
                       ) -> dict[str, float]:
    """Default ``uncertainty_threshold`` of the calculator: per quantity the ``quantile``
    (:data:`THRESHOLD_QUANTILE`) of the model's uncertainties over ``frames`` (a sample of its training
    frames), so that about a fraction ``1 - quantile`` of structures like those it was trained on is flagged
    per quantity. Quantities the model has no uncertainty for are left out."""
    import numpy as np

    return {name: float(np.quantile(found, quantile))
            for name, found in uncertainty_values(model, frames).items() if found}


def describe_energy_calibration(calibration: dict | None) -> str:
    """One clause for ``mlham train``'s last line: the validation errors at the damping width
    :func:`calibrate_energy_head` chose (``""`` without a calibration).

    The chosen width is the best validation score among those that pass the training-frame guard, not
    necessarily the best score of all, so the row is looked up by width.
    """
    if not calibration:
        return ""
    chosen = next(row for row in calibration["damping_widths"]
                  if row["damping_width_eV"] == calibration["damping_width_eV"])
    return (f"; validation energy {chosen['energy_mae_eV_per_atom'] * 1000:.1f} meV/atom, forces "
            f"{chosen['forces_mae_eV_per_A'] * 1000:.1f} meV/A at damping width {chosen['damping_width_eV']} eV")
