"""``mlham train``: from reference databases to a saved model file."""

from __future__ import annotations

import os
import sys
import time
from dataclasses import asdict
from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from ase_mlham.data.dataset import ReferenceFrame, largest_molecule, molecules_of, read_frames, split_by_frame
from ase_mlham.evaluation import frame_ids
from ase_mlham.model.io import save_model
from ase_mlham.model.model import MLHamModel
from ase_mlham.model.settings import ModelSettings
from ase_mlham.progress import ProgressBar
from ase_mlham.training.initialise import (fit_energy_head, fit_feature_scales, fit_gates, item_normal_equations,
                                          ridge_initialise)
from ase_mlham.training.calibration import calibrate_energy_head, default_thresholds
from ase_mlham.training.committee import fit_hamiltonian_committee
from ase_mlham.training.prepare import FrameInputs, fixed_batches, frame_inputs, invariant_jacobian
from ase_mlham.training.targets import BaselineCache
from ase_mlham.training.trainer import TrainingResult, TrainingSettings, train


def build_model(model_settings: ModelSettings, seed: int) -> MLHamModel:
    """A freshly initialised model; the seed fixes the random initial weights
    (the global torch RNG is forked, so the caller's state is untouched)."""
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        return MLHamModel(model_settings)


def prepare_inputs(model: MLHamModel, frames: Sequence[ReferenceFrame], label: str,
                   show_progress: bool, cache: BaselineCache | None = None, hamiltonian: bool = True
                   ) -> list[FrameInputs]:
    """Descriptor inputs and energy-head targets of every frame (no Jacobians yet)."""
    bar = ProgressBar(len(frames), f"features ({label})", enabled=show_progress)
    items = []
    for frame in frames:
        items.append(frame_inputs(model, frame, cache, hamiltonian))
        bar.update(1)
    return items


def add_jacobians(model: MLHamModel, items: Sequence[FrameInputs], label: str, show_progress: bool) -> None:
    """Jacobians of every frame's energy invariants (for the force loss)."""
    bar = ProgressBar(len(items), f"energy Jacobians ({label})", enabled=show_progress)
    for item in items:
        item.jacobian = invariant_jacobian(model, item)
        bar.update(1)


#: Training frames whose forces the damping must not worsen (:func:`calibrate_energy_head`).
FAMILIAR_FRAMES = 100


def familiar_sample(items: Sequence[FrameInputs], seed: int) -> list[FrameInputs]:
    """A seeded sample of at most :data:`FAMILIAR_FRAMES` training frames."""
    order = np.random.default_rng(seed).permutation(len(items))[:FAMILIAR_FRAMES]
    return [items[i] for i in sorted(order)]


def fit_energy_correction(hamiltonian_from: MLHamModel, train_frames: Sequence[ReferenceFrame],
                          validation_frames: Sequence[ReferenceFrame], model_settings: ModelSettings,
                          settings: TrainingSettings = TrainingSettings(), out: str | os.PathLike | None = None,
                          metadata: dict | None = None, show_progress: bool = True,
                          cache: BaselineCache | None = None) -> MLHamModel:
    """A model with ``hamiltonian_from``'s Hamiltonian head (unchanged) and a new, closed-form energy head.

    For a retrained energy model without retraining the Hamiltonian (hours): the energy head of
    ``model_settings`` (linear, no MLP) is fitted to the training frames' energies and forces (the
    reference minus the baseline), its uncertainty and damping calibrated on the validation frames
    (:mod:`ase_mlham.training.calibration`), and the model saved to ``out``.
    """
    start = time.perf_counter()
    if model_settings.energy_hidden:
        raise ValueError("an energy correction on a given Hamiltonian is the closed-form linear term only; "
                         f"the preset's energy head has hidden layers {model_settings.energy_hidden}")
    source = hamiltonian_from.settings
    if (model_settings.descriptor, model_settings.gate_channels) != (source.descriptor, source.gate_channels):
        raise ValueError("the preset's Hamiltonian descriptor or gate channels differ from those of the model whose "
                         "Hamiltonian head is taken")
    model = build_model(model_settings, settings.seed)
    model.hamiltonian_head.load_state_dict(hamiltonian_from.hamiltonian_head.state_dict())
    train_items = prepare_inputs(model, train_frames, "train", show_progress, cache, hamiltonian=False)
    validation_items = prepare_inputs(model, validation_frames, "validation", show_progress, cache, hamiltonian=False)
    bar = ProgressBar(len(train_items), "energy fit (Jacobians)", enabled=show_progress)

    def jacobian(item: FrameInputs) -> torch.Tensor:
        bar.update(1)
        return invariant_jacobian(model, item)

    fit_energy_head(model, train_items, settings.energy_ridge_regularisation, jacobian, settings.energy_fit_weight)
    add_jacobians(model, validation_items, "validation", show_progress)
    familiar = familiar_sample(train_items, settings.seed)
    add_jacobians(model, familiar, "training sample", show_progress)
    calibration = calibrate_energy_head(model, validation_items, familiar) if model.energy_head.damped else None
    committee = None
    if model.committee is not None:
        committee = fit_hamiltonian_committee(model, train_frames, validation_frames, show_progress)
    thresholds = default_thresholds(model, [item.frame for item in familiar])
    if out is not None:
        save_model(model, out, {
            **(metadata or {}), "complete": True, "training_settings": asdict(settings),
            "train_frames": len(train_frames), "validation_frames": len(validation_frames),
            "molecules": molecules_of(train_frames), "energy_calibration": calibration,
            "largest_molecule_atoms": largest_molecule(train_frames, validation_frames),
            "hamiltonian_committee": committee, "uncertainty_thresholds": thresholds,
            "hamiltonian_head_from": getattr(hamiltonian_from, "metadata", {}).get("source_file"),
            "seconds_total": time.perf_counter() - start,
        })
    return model


def fit_model(train_frames: Sequence[ReferenceFrame], validation_frames: Sequence[ReferenceFrame],
              model_settings: ModelSettings = ModelSettings(), settings: TrainingSettings = TrainingSettings(),
              out: str | os.PathLike | None = None, metadata: dict | None = None,
              show_progress: bool = True, cache: BaselineCache | None = None) -> tuple[MLHamModel, TrainingResult]:
    """Initialise (closed form) and train a model; save it to ``out`` (checkpoints too)."""
    start = time.perf_counter()
    model = build_model(model_settings, settings.seed)
    train_items = prepare_inputs(model, train_frames, "train", show_progress, cache)
    validation_items = prepare_inputs(model, validation_frames, "validation", show_progress, cache)
    fit_feature_scales(model, train_items)
    fit_gates(model, train_items)
    # the committee fits the same "adjusted" ridge sums after training: computed once, here
    equations = item_normal_equations(model, train_items) if settings.init == "adjusted" else None
    ridge_errors = ridge_initialise(model, train_items, settings.init, settings.ridge_regularisation,
                                    settings.pair_ridge_regularisation, equations)
    add_jacobians(model, train_items, "train", show_progress)
    add_jacobians(model, validation_items, "validation", show_progress)
    fit_energy_head(model, train_items, settings.energy_ridge_regularisation, energy_weight=settings.energy_fit_weight)
    calibration_items, familiar = validation_items, familiar_sample(train_items, settings.seed)
    rng = np.random.default_rng(settings.seed)
    train_batches = fixed_batches(train_items, settings.batch_size, settings.core_weight, rng)
    validation_batches = fixed_batches(validation_items, settings.batch_size, settings.core_weight, rng)
    # the batches hold copies of everything training needs: free the per-frame Jacobians (GBs)
    del train_items, validation_items
    prepared = time.perf_counter() - start
    base_metadata = dict(metadata or {})
    base_metadata.update(
        training_settings=asdict(settings),
        train_frames=len(train_frames), validation_frames=len(validation_frames),
        molecules=molecules_of(train_frames),
        largest_molecule_atoms=largest_molecule(train_frames, validation_frames),
        ridge_rmse_eV_max=max(ridge_errors.values()) if ridge_errors else None,
    )

    def checkpoint(best: MLHamModel, info: dict) -> None:
        if out is not None:
            save_model(best, out, {**base_metadata, **info, "complete": False})

    result = train(model, train_batches, validation_batches, settings, checkpoint, show_progress=show_progress)
    calibration = calibrate_energy_head(model, calibration_items, familiar) if model.energy_head.damped else None
    committee = None
    if model.committee is not None:
        committee = fit_hamiltonian_committee(model, train_frames, validation_frames, show_progress, equations)
    thresholds = default_thresholds(model, [item.frame for item in familiar])
    if out is not None:
        save_model(model, out, {
            **base_metadata, "complete": True, "epochs_run": result.epochs_run, "energy_calibration": calibration,
            "hamiltonian_committee": committee, "uncertainty_thresholds": thresholds,
            "best_epoch_hamiltonian": result.best_epoch_hamiltonian, "best_epoch_energy": result.best_epoch_energy,
            "validation": result.validation, "seconds_preparation": prepared,
            "seconds_total": time.perf_counter() - start,
        })
    return model, result


def train_from_databases(databases: Sequence[str | os.PathLike], out: str | os.PathLike,
                         model_settings: ModelSettings = ModelSettings(),
                         settings: TrainingSettings = TrainingSettings(), molecules: Sequence[str] | None = None,
                         max_frames: int | None = None, show_progress: bool = True,
                         training_only: Sequence[str | os.PathLike] = (),
                         validation_databases: Sequence[str | os.PathLike] = (),
                         hamiltonian_from: str | os.PathLike | None = None,
                         baseline_cache: BaselineCache | None = None) -> tuple[MLHamModel, TrainingResult | None]:
    """Read frames, split off test and validation sets, train, save.

    Test frames (never trained on; ``mlham evaluate`` reads their names from the model file) are a
    fraction of each molecule's frames of ``databases``. Validation frames (early stopping, calibration
    of the energy uncertainty and damping) are the whole molecules of ``validation_databases`` when
    given (the molecule-level validation split, for transfer), else a fraction of each molecule's frames.
    The frames of the ``training_only`` databases (e.g. a few active-learning frames per
    molecule) join the training set whole: no test or validation frames are taken from
    them, and ``molecules``/``max_frames`` do not apply to them.
    With ``hamiltonian_from`` (a model file), its Hamiltonian head is kept and only a closed-form
    energy head is fitted (:func:`fit_energy_correction`; the result is then ``None``).
    """
    frames: list[ReferenceFrame] = []
    for database in databases:
        frames.extend(read_frames(database))
    if molecules is not None:
        unknown = sorted(set(molecules) - set(molecules_of(frames)))
        if unknown:
            raise ValueError(f"molecules {unknown} are not in {list(map(str, databases))}")
        frames = [f for f in frames if f.molecule in set(molecules)]
    if max_frames is not None:
        order = np.random.default_rng(settings.seed).permutation(len(frames))[:max_frames]
        frames = [frames[i] for i in sorted(order)]
    if len(frames) < 3:
        raise ValueError(f"training needs at least 3 frames, got {len(frames)}")
    # Held-out test frames (never seen in training, for `mlham evaluate`), then validation
    # frames (early stopping), both stratified per molecule.
    test_frames: list[ReferenceFrame] = []
    if settings.test_fraction > 0:
        frames, test_frames = split_by_frame(frames, settings.test_fraction, settings.seed)
    if validation_databases:
        train_frames, validation_frames = frames, []
        for database in validation_databases:
            validation_frames.extend(read_frames(database))
        shared = sorted(set(molecules_of(validation_frames)) & set(molecules_of(train_frames)))
        if shared:
            raise ValueError(f"validation molecules {shared[:5]} are also in the training databases")
    else:
        train_frames, validation_frames = split_by_frame(frames, settings.validation_fraction, settings.seed + 1)
    if not validation_frames:
        raise ValueError("the validation split is empty: use more frames or a larger validation_fraction")
    extra: list[ReferenceFrame] = []
    for database in training_only:
        extra.extend(read_frames(database))
    clashes = sorted(set(frame_ids(extra)) & set(frame_ids(frames)))
    if clashes:  # frame identifiers (molecule/frame) must be unique across the model's data
        raise ValueError(f"training-only frames {clashes[:5]} have the names of frames in {list(map(str, databases))}")
    train_frames = [*train_frames, *extra]
    metadata = {
        "splits": {"test": frame_ids(test_frames), "validation": frame_ids(validation_frames)},
        "command": " ".join(["mlham", *sys.argv[1:]]) if Path(sys.argv[0]).name == "mlham" else None,
        "databases": [str(Path(d).name) for d in (*databases, *training_only)],
        "training_only_databases": [str(Path(d).name) for d in training_only],
        "validation_databases": [str(Path(d).name) for d in validation_databases],
        "model_settings": model_settings.to_dict(),
    }
    if hamiltonian_from is not None:
        from ase_mlham.model.io import load_model

        source = load_model(hamiltonian_from)
        source.metadata["source_file"] = str(hamiltonian_from)
        model = fit_energy_correction(source, train_frames, validation_frames, model_settings, settings, out,
                                      metadata, show_progress, baseline_cache)
        return model, None
    return fit_model(train_frames, validation_frames, model_settings, settings, out, metadata, show_progress,
                     baseline_cache)
