"""Training a tiny model for a few epochs on a handful of shared frames."""

import dataclasses

import numpy as np
import pytest
import torch

from ase_mlham.data.dataset import read_frames
from ase_mlham.model.blocks import hamiltonian_to_blocks
from ase_mlham.model.io import load_model
from ase_mlham.model.testing import randomise
from ase_mlham.training import initialise
from ase_mlham.training.initialise import fit_energy_head, ridge_target
from ase_mlham.training.prepare import frame_inputs, invariant_jacobian, make_batch
from ase_mlham.training.run import build_model, fit_model
from ase_mlham.training.trainer import TrainingSettings, predicted_energies_forces

from ..model.conftest import TINY_SEPARATE_ENERGY_SETTINGS, TINY_SETTINGS


@pytest.fixture(scope="module")
def small_frames(g2_db):
    frames = []
    for name in ("H2O", "NH3", "CH4", "H2CO"):
        frames.extend(read_frames(g2_db, molecule=name)[:3])
    return frames


@pytest.fixture(scope="module")
def trained(small_frames, tmp_path_factory):
    out = tmp_path_factory.mktemp("model") / "tiny.pt"
    train, validation = small_frames[::3] + small_frames[1::3], small_frames[2::3]
    settings = TrainingSettings(epochs=15, batch_size=4, learning_rate=5e-3, patience=50, seed=1)
    model, result = fit_model(train, validation, TINY_SETTINGS, settings, out, show_progress=False)
    return model, result, out


def test_loss_decreases_and_checkpoint_is_written(trained):
    model, result, out = trained
    history = result.history
    assert history[-1]["eigen_loss"] < history[0]["eigen_loss"]
    assert min(h["energy_loss"] for h in history) < history[0]["energy_loss"]
    loaded = load_model(out)
    assert loaded.metadata["complete"] and loaded.metadata["epochs_run"] == 15
    for (name, a), (_, b) in zip(model.state_dict().items(), loaded.state_dict().items()):
        assert torch.equal(a, b), name


def test_each_head_keeps_its_best_validation_state(trained):
    """Selection by the absolute-error scores (not the squared losses): the restored heads reproduce
    the validation errors of the epochs with the lowest scores."""
    _, result, _ = trained
    history = result.history
    for head, columns in (("hamiltonian", ("window_mae", "gap_mae")), ("energy", ("energy_mae", "forces_mae"))):
        scores = [h[f"{head}_score"] for h in history]
        best_epoch = getattr(result, f"best_epoch_{head}")
        assert best_epoch == int(np.argmin(scores)) + 1
        for column in columns:
            assert result.validation[column] == pytest.approx(history[best_epoch - 1][column], rel=1e-10)


def test_training_is_reproducible(small_frames):
    settings = TrainingSettings(epochs=2, batch_size=4, seed=3)
    runs = [fit_model(small_frames[:6], small_frames[6:8], TINY_SETTINGS, settings, show_progress=False)[0]
            for _ in range(2)]
    for (name, a), (_, b) in zip(runs[0].state_dict().items(), runs[1].state_dict().items()):
        assert torch.equal(a, b), name


def test_jacobian_matches_finite_differences(small_frames):
    model = build_model(TINY_SETTINGS, seed=0)
    frame = small_frames[3]
    jacobian = invariant_jacobian(model, frame_inputs(model, frame))
    step = 1e-5
    positions = torch.tensor(frame.positions)
    shift = torch.zeros_like(positions)
    shift[1, 2] = step
    plus = model.energy_features(frame.numbers, positions + shift)
    minus = model.energy_features(frame.numbers, positions - shift)
    assert torch.allclose((plus - minus) / (2 * step), jacobian[:, :, 1, 2], atol=1e-7)


def test_batched_energies_and_forces_are_the_models(small_frames):
    """The training loss's energies and forces (fixed Jacobians packed by atom pair, frames of 3 to 5
    atoms in one batch) are those of the model's own forward pass and autograd, atom by atom."""
    model = randomise(build_model(TINY_SEPARATE_ENERGY_SETTINGS, seed=0)).eval()
    items = [frame_inputs(model, frame) for frame in small_frames[::2]]
    for item in items:
        item.jacobian = invariant_jacobian(model, item)
    batch = make_batch(items, core_weight=0.05)
    energies, forces = (t.detach() for t in predicted_energies_forces(model, batch, create_graph=False))
    assert len({len(frame.numbers) for frame in batch.frames}) == 3
    first = 0
    for b, frame in enumerate(batch.frames):
        prediction = model.predict(frame.numbers, frame.positions)
        assert float(energies[b]) == pytest.approx(float(prediction.energy), abs=1e-10)
        n_atoms = len(frame.numbers)
        assert torch.allclose(forces[first:first + n_atoms], prediction.forces, atol=1e-10, rtol=0)
        first += n_atoms
    assert first == len(forces)


@pytest.mark.parametrize("model_settings", [TINY_SETTINGS, TINY_SEPARATE_ENERGY_SETTINGS],
                         ids=["shared descriptor", "separate energy descriptor"])
@pytest.mark.parametrize("cholesky_fails", [False, True], ids=["cholesky", "solve fallback"])
def test_closed_form_energy_head_reproduces_a_linear_teacher(small_frames, model_settings, cholesky_fails,
                                                             monkeypatch):
    """Energies and forces of a model whose energy is linear in the invariants are fitted exactly,
    by the Cholesky solve and by the general solve it falls back to when rounding defeats it."""
    # frames of 4 species sets, 3 each: with 2 frames per update every set takes two stacked updates
    monkeypatch.setattr(initialise, "_FRAMES_PER_UPDATE", 2)
    failures = []
    if cholesky_fails:
        def failing_cholesky(matrix):
            failures.append(matrix.shape)
            return torch.zeros_like(matrix), torch.tensor(1)  # info > 0: not positive definite
        monkeypatch.setattr(torch.linalg, "cholesky_ex", failing_cholesky)
    teacher = build_model(model_settings, seed=0)
    generator = torch.Generator().manual_seed(5)
    with torch.no_grad():
        teacher.energy_head.linear.copy_(0.1 * torch.randn(teacher.energy_head.linear.shape, generator=generator,
                                                           dtype=torch.float64))
        teacher.energy_head.offsets.copy_(torch.tensor([-13.6, -1030.0, -1480.0, -2040.0], dtype=torch.float64))
    frames = []
    for frame in small_frames:
        prediction = teacher.predict(frame.numbers, frame.positions)
        frames.append(dataclasses.replace(frame, energy=float(prediction.energy),
                                          forces=prediction.forces.numpy().copy()))
    student = build_model(model_settings, seed=1)
    items = [frame_inputs(student, frame) for frame in frames]
    for item in items:
        item.jacobian = invariant_jacobian(student, item)
    fit_energy_head(student, items, regularisation=1e-14)
    assert len(failures) == int(cholesky_fails)
    for frame in frames:
        prediction = student.predict(frame.numbers, frame.positions)
        # energies of ~1e3 eV through a least-squares solve: 1e-5 eV is 1e-8 relative (1e-6 eV failed by
        # 1% with one BLAS thread, a summation-order effect)
        assert abs(float(prediction.energy) - frame.energy) < 1e-5
        assert np.allclose(prediction.forces.numpy(), frame.forces, atol=1e-6)


def test_adjusted_ridge_target_has_the_reference_spectrum(small_frames):
    frame = small_frames[0]
    model = build_model(TINY_SETTINGS, seed=0)
    item = frame_inputs(model, frame)
    target = ridge_target(frame, "adjusted")
    assert np.allclose(torch.linalg.eigvalsh(target).numpy(), frame.mo_target, atol=1e-9)
    assert hamiltonian_to_blocks(target, frame.numbers, item.pairs).values


def _copy_rows(g2_db, path, molecule, rename=None, count=3):
    from ase.db import connect

    target = connect(str(path))
    for row in list(connect(str(g2_db)).select(molecule=molecule))[:count]:
        keys = dict(row.key_value_pairs, molecule=rename or molecule)
        target.write(row.toatoms(), key_value_pairs=keys, data=row.data)


def test_training_only_frames_join_training_and_no_split(g2_db, tmp_path):
    from ase_mlham.training.run import train_from_databases

    main, extra = tmp_path / "main.db", tmp_path / "extra.db"
    for name in ("H2O", "NH3"):
        _copy_rows(g2_db, main, name)
    _copy_rows(g2_db, extra, "CH4", rename="CH4-al1")
    settings = TrainingSettings(epochs=1, batch_size=4, seed=0)
    train_from_databases([main], tmp_path / "m.pt", TINY_SETTINGS, settings, show_progress=False,
                         training_only=[extra])
    meta = load_model(tmp_path / "m.pt").metadata
    held_out = meta["splits"]["test"] + meta["splits"]["validation"]
    assert not [name for name in held_out if name.startswith("CH4-al1/")]
    assert meta["train_frames"] == 6 - len(held_out) + 3 and "CH4-al1" in meta["molecules"]
    assert meta["training_only_databases"] == ["extra.db"] and "extra.db" in meta["databases"]
    _copy_rows(g2_db, tmp_path / "clash.db", "H2O")
    with pytest.raises(ValueError, match="have the names of frames"):
        train_from_databases([main], tmp_path / "n.pt", TINY_SETTINGS, settings, show_progress=False,
                             training_only=[tmp_path / "clash.db"])


def _write(db_path, frames_of):
    from ase.db import connect

    db = connect(str(db_path), use_lock_file=False)
    for row in frames_of:
        db.write(row.toatoms(), key_value_pairs=row.key_value_pairs, data=row.data)


def test_energy_correction_on_a_kept_hamiltonian_with_validation_molecules(g2_db, tmp_path):
    """--hamiltonian-from: the Hamiltonian head is the source's, bit for bit; the damped linear correction
    to GFN2-xTB is fitted and calibrated on whole validation molecules; the committee is fitted too."""
    from ase.db import connect

    from ase_mlham.evaluation import evaluate
    from ase_mlham.model.io import save_model
    from ase_mlham.training.run import train_from_databases
    from ase_mlham.training.targets import BaselineCache

    source = randomise(build_model(TINY_SETTINGS, 0))
    save_model(source, tmp_path / "source.pt")
    rows = connect(str(g2_db))
    _write(tmp_path / "train.db", [r for name in ("H2O", "NH3", "CH4", "H2CO", "CH3OH") for r in
                                   rows.select(molecule=name, limit=5)])
    _write(tmp_path / "validation.db", list(rows.select(molecule="C2H6", limit=4)))
    settings = dataclasses.replace(TINY_SETTINGS, energy_hidden=(), energy_baseline="GFN2-xTB", dispersion=True,
                                   hamiltonian_members=3)
    model, result = train_from_databases(
        [tmp_path / "train.db"], tmp_path / "delta.pt", settings, TrainingSettings(energy_ridge_regularisation=1e-3),
        show_progress=False, validation_databases=[tmp_path / "validation.db"],
        hamiltonian_from=tmp_path / "source.pt", baseline_cache=BaselineCache(tmp_path / "cache.sqlite"))
    assert result is None
    loaded = load_model(tmp_path / "delta.pt")
    for name, tensor in source.hamiltonian_head.state_dict().items():
        assert torch.equal(loaded.hamiltonian_head.state_dict()[name], tensor), name
    metadata = loaded.metadata
    assert metadata["splits"]["validation"] == [f"C2H6/{r.frame}" for r in rows.select(molecule="C2H6", limit=4)]
    assert metadata["energy_calibration"]["validation_frames"] == 4
    assert metadata["hamiltonian_committee"]["n_members"] == 3
    assert float(loaded.energy_head.uncertainty_scale) > 0 and float(loaded.committee.gap_scale) > 0
    assert set(metadata["uncertainty_thresholds"]) == {"energy", "forces", "gap"}
    from ase_mlham.calculator import MLHamCalculator

    assert MLHamCalculator(tmp_path / "delta.pt").uncertainty_threshold == metadata["uncertainty_thresholds"]
    # the correction learned something: on its training molecules' held-out frames it beats xTB alone
    test = [f for f in read_frames(tmp_path / "train.db") if f"{f.molecule}/{f.frame}" in metadata["splits"]["test"]]
    assert test
    evaluation = evaluate(loaded, test, show_progress=False).to_dict()
    methods = evaluation["overall"]["methods"]
    assert methods["model"]["forces"]["mae"] < methods["GFN2-xTB"]["forces"]["mae"]
    assert set(evaluation["uncertainty"]) == {"energy", "forces", "gap", "orbital"}


def test_the_train_message_reports_the_damping_width_calibration_chose():
    """The guard can refuse the width of the best validation score: the message names the chosen one."""
    from ase_mlham.training.calibration import describe_energy_calibration

    rows = [{"damping_width_eV": width, "energy_mae_eV_per_atom": energy, "forces_mae_eV_per_A": 0.1, "score": score}
            for width, energy, score in ((1.0, 0.0273, 0.145), (0.3, 0.0227, 0.137))]
    message = describe_energy_calibration({"damping_width_eV": 1.0, "damping_widths": rows})
    assert message == "; validation energy 27.3 meV/atom, forces 100.0 meV/A at damping width 1.0 eV"
    assert describe_energy_calibration(None) == ""


def test_a_kept_hamiltonian_needs_a_matching_descriptor_and_no_mlp(g2_db, tmp_path):
    from ase_mlham.model.io import save_model
    from ase_mlham.training.run import train_from_databases

    save_model(randomise(build_model(TINY_SETTINGS, 0)), tmp_path / "source.pt")
    delta = dataclasses.replace(TINY_SETTINGS, energy_baseline="GFN2-xTB", dispersion=True)
    with pytest.raises(ValueError, match="closed-form linear term only; the preset's energy head has hidden layers"):
        train_from_databases([g2_db], tmp_path / "x.pt", delta, molecules=["H2O", "NH3"], show_progress=False,
                             hamiltonian_from=tmp_path / "source.pt")
    other = dataclasses.replace(delta, energy_hidden=(),
                                descriptor=dataclasses.replace(TINY_SETTINGS.descriptor, max_radial=3))
    with pytest.raises(ValueError, match="Hamiltonian descriptor or gate channels differ"):
        train_from_databases([g2_db], tmp_path / "x.pt", other, molecules=["H2O", "NH3"], show_progress=False,
                             hamiltonian_from=tmp_path / "source.pt")
