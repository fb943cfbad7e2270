"""Energy = GFN2-xTB + a damped learned correction: the baseline, the calculator contract with it,
targets, settings and model files."""

import dataclasses
import math

import numpy as np
import pytest
from ase.build import molecule
from ase.calculators.calculator import PropertyNotImplementedError

from ase_mlham.calculator import MLHamCalculator
from ase_mlham.data.dataset import read_frames
from ase_mlham.model.baseline import XTB_ACCURACY, BaselineError, xtb_energy_forces
from ase_mlham.model.io import load_model, save_model
from ase_mlham.model.settings import PRESETS, ModelSettings
from ase_mlham.model.testing import random_tiny_delta_model
from ase_mlham.training.targets import BaselineCache, head_targets, reference_energy_forces


@pytest.fixture(scope="module")
def delta_model():
    return random_tiny_delta_model(seed=0)


@pytest.fixture()
def calc(delta_model):
    return MLHamCalculator(delta_model, n_excitations=0)


def distorted(name, seed=0, stdev=0.05):
    atoms = molecule(name)
    atoms.rattle(stdev=stdev, seed=seed)
    return atoms


def results(calc, atoms):
    atoms = atoms.copy()
    atoms.calc = calc
    return {"energy": atoms.get_potential_energy(), "forces": atoms.get_forces(),
            "sigma": calc.get_property("energy_uncertainty", atoms),
            "sigma_forces": calc.get_property("forces_uncertainty", atoms), "eigenvalues": calc.get_eigenvalues()}


def test_xtb_forces_are_minus_the_gradient_of_its_energy_at_the_chosen_accuracy():
    atoms = distorted("CH3CONH2", seed=2)
    _, forces = xtb_energy_forces(atoms.numbers, atoms.positions)
    step = 1e-4
    for atom, axis in ((0, 0), (4, 1), (8, 2)):
        energies = []
        for sign in (1, -1):
            positions = atoms.positions.copy()
            positions[atom, axis] += sign * step
            energies.append(xtb_energy_forces(atoms.numbers, positions)[0])
        assert abs(-(energies[0] - energies[1]) / (2 * step) - forces[atom, axis]) < 1e-5
    assert XTB_ACCURACY < 1.0


def test_bad_baseline_input_is_named():
    with pytest.raises(ValueError, match="energy baseline must be one of"):
        xtb_energy_forces([1, 1], [[0, 0, 0], [0, 0, 0.74]], method="DFTB")
    assert issubclass(BaselineError, RuntimeError)


def test_the_model_energy_is_the_baseline_plus_the_damped_correction(delta_model):
    atoms = distorted("CH3CH2OH")
    prediction = delta_model.predict(atoms.numbers, atoms.positions)
    energy, forces = xtb_energy_forces(atoms.numbers, atoms.positions)
    assert prediction.baseline_energy == pytest.approx(energy, abs=1e-10)
    assert float(prediction.energy) == pytest.approx(energy + float(prediction.atomic_energies.sum()), abs=1e-10)
    # the damping really acts: without it the correction differs
    head = delta_model.energy_head
    x = head.standardised(delta_model.energy_features(atoms.numbers, prediction.forces.new_tensor(atoms.positions)),
                          delta_model.species_index(atoms.numbers))
    damping = head.damping(x, delta_model.species_index(atoms.numbers))
    assert float(damping.min()) < 0.99 and float(damping.max()) <= 1.0


@pytest.mark.parametrize("name", ["H2O", "CH3CH2OH", "CH3CONH2"])
def test_forces_are_minus_the_energy_gradient(calc, name):
    atoms = distorted(name)
    forces = results(calc, atoms)["forces"]
    step = 1e-4
    direction = np.random.default_rng(1).normal(size=forces.shape)
    direction /= np.linalg.norm(direction)
    plus, minus = atoms.copy(), atoms.copy()
    plus.positions += step * direction
    minus.positions -= step * direction
    derivative = (results(calc, plus)["energy"] - results(calc, minus)["energy"]) / (2 * step)
    assert -derivative == pytest.approx(float((forces * direction).sum()), abs=1e-5)


def test_rotation_translation_permutation(calc):
    atoms = distorted("CH3CH2OH", seed=3)
    reference = results(calc, atoms)
    q, r = np.linalg.qr(np.random.default_rng(7).normal(size=(3, 3)))
    rotation = q * np.sign(np.diag(r))
    rotation *= np.sign(np.linalg.det(rotation))
    moved = atoms.copy()
    moved.positions = atoms.positions @ rotation.T + np.array([3.0, -12.5, 40.0])
    order = np.random.default_rng(2).permutation(len(atoms))
    # the calculator restarts each SCC from the previous geometry's wavefunction: forces agree to the SCC's
    # convergence (a few 1e-6 eV/A at tblite accuracy 0.01), energies far better
    for other, transform in ((moved, lambda f: f @ rotation.T), (atoms[order], lambda f: f[order])):
        result = results(calc, other)
        assert result["energy"] == pytest.approx(reference["energy"], abs=1e-7)
        assert result["sigma"] == pytest.approx(reference["sigma"], rel=1e-9)
        np.testing.assert_allclose(result["forces"], transform(reference["forces"]), atol=1e-5)
    np.testing.assert_allclose(results(calc, atoms[order])["sigma_forces"], reference["sigma_forces"][order],
                               rtol=1e-9)


def test_molecules_100_angstrom_apart_are_independent(calc):
    single = distorted("CH3CONH2", seed=4)
    other = single.copy()
    other.positions += np.array([100.0, 0.0, 0.0])
    reference, pair = results(calc, single), results(calc, single + other)
    # GFN2-xTB's electrostatics still couple the two dipoles (3.7 D each): ~1e-5 eV at 100 A, physics;
    # the learned correction is local and adds nothing
    assert pair["energy"] == pytest.approx(2 * reference["energy"], abs=1e-4)
    np.testing.assert_allclose(pair["forces"][:len(single)], reference["forces"], atol=1e-4)


def test_atomic_energies_do_not_exist_but_the_uncertainties_do(delta_model):
    atoms = distorted("CH3CH2OH")
    atoms.calc = MLHamCalculator(delta_model, n_excitations=0)
    with pytest.raises(PropertyNotImplementedError, match="no partition into atoms"):
        atoms.get_potential_energies()
    assert atoms.calc.get_property("energy_uncertainty", atoms) > 0
    assert atoms.calc.get_property("forces_uncertainty", atoms).shape == (len(atoms),)
    # the force proxy is beta sqrt(sum_i f_c(r_ij) sigma_i^2): with beta = 1 and every atom within the cutoff
    # it is the same for every atom
    head = delta_model.energy_head
    old = float(head.force_uncertainty_scale)
    try:
        head.force_uncertainty_scale.fill_(1.0)
        atoms.calc = MLHamCalculator(delta_model, n_excitations=0)
        proxy = atoms.calc.get_property("forces_uncertainty", atoms)
        prediction = delta_model.predict(atoms.numbers, atoms.positions)
        invariants = delta_model.energy_features(atoms.numbers, prediction.forces.new_tensor(atoms.positions))
        sigma = head.atomic_uncertainties(invariants, delta_model.species_index(atoms.numbers)).detach().numpy()
        assert proxy.max() <= np.sqrt((sigma**2).sum()) + 1e-12 and proxy.min() >= sigma.max() - 1e-12
    finally:
        head.force_uncertainty_scale.fill_(old)


def test_a_model_without_baseline_has_no_energy_uncertainty():
    from ase_mlham.model.testing import random_tiny_model

    atoms = distorted("H2O")
    atoms.calc = MLHamCalculator(random_tiny_model(), n_excitations=0)
    for name in ("energy_uncertainty", "forces_uncertainty"):
        with pytest.raises(PropertyNotImplementedError, match=f"{name} needs a model with a calibrated"):
            atoms.calc.get_property(name, atoms)


def test_baseline_needs_dispersion_and_a_known_method():
    with pytest.raises(ValueError, match="needs dispersion=True"):
        dataclasses.replace(PRESETS["tiny"], energy_baseline="GFN2-xTB")
    with pytest.raises(ValueError, match="energy_baseline must be None or one of"):
        dataclasses.replace(PRESETS["tiny"], energy_baseline="PM7", dispersion=True)
    assert PRESETS["delta-xtb"].energy_baseline == "GFN2-xTB" and PRESETS["delta-xtb"].dispersion
    assert ModelSettings.from_dict(PRESETS["delta-xtb"].to_dict()) == PRESETS["delta-xtb"]


def test_damped_model_file_round_trip(delta_model, tmp_path):
    save_model(delta_model, tmp_path / "delta.pt")
    loaded = load_model(tmp_path / "delta.pt")
    atoms = distorted("CH3CHO")
    a, b = delta_model.predict(atoms.numbers, atoms.positions), loaded.predict(atoms.numbers, atoms.positions)
    assert float(a.energy) == float(b.energy) and float(a.energy_uncertainty) == float(b.energy_uncertainty)
    assert math.isfinite(float(loaded.energy_head.damping_width))


def test_targets_are_b3lyp_d4_minus_xtb_and_cached(g2_db, tmp_path):
    (frame,) = read_frames(g2_db, molecule="CH3OH", frame=4)
    settings = PRESETS["delta-xtb"]
    energy, forces = reference_energy_forces(frame, settings)
    assert energy == frame.energy + frame.d4_energy
    np.testing.assert_array_equal(forces, frame.forces + frame.d4_forces)
    cache = BaselineCache(tmp_path / "cache.sqlite")
    target_energy, target_forces = head_targets(frame, settings, cache)
    xtb_energy, xtb_forces = xtb_energy_forces(frame.numbers, frame.positions)
    assert target_energy == pytest.approx(energy - xtb_energy, abs=1e-9)
    np.testing.assert_allclose(target_forces, forces - xtb_forces, atol=1e-9)
    again = head_targets(frame, settings, BaselineCache(tmp_path / "cache.sqlite"))  # read back, not recomputed
    assert again[0] == target_energy and np.array_equal(again[1], target_forces)
    plain = head_targets(frame, PRESETS["tiny"])
    assert plain[0] == frame.energy


def test_a_frame_without_d4_is_refused_for_a_d4_model(g2_db):
    (frame,) = read_frames(g2_db, molecule="CH3OH", frame=4)
    frame = dataclasses.replace(frame, d4_energy=None, d4_forces=None)
    with pytest.raises(ValueError, match="lacks d4_energy/d4_forces.*mlham dispersion DB"):
        reference_energy_forces(frame, PRESETS["delta-xtb"])


def test_calibration_scales_and_picks_a_damping_width_from_validation_frames(g2_db):
    from ase_mlham.training.calibration import DAMPING_WIDTHS, calibrate_energy_head
    from ase_mlham.training.prepare import frame_inputs, invariant_jacobian

    model = random_tiny_delta_model(seed=3)
    items = []
    for frame in read_frames(g2_db, molecule="CH3CHO")[:4]:
        item = frame_inputs(model, frame, hamiltonian=False)
        item.jacobian = invariant_jacobian(model, item)
        items.append(item)
    info = calibrate_energy_head(model, items)
    head = model.energy_head
    assert info["uncertainty_scale_eV"] == float(head.uncertainty_scale) > 0
    assert info["damping_width_eV"] == float(head.damping_width) in DAMPING_WIDTHS
    assert float(head.force_uncertainty_scale) > 0
    scores = [row["score"] for row in info["damping_widths"]]
    assert min(scores) == next(row["score"] for row in info["damping_widths"]
                               if row["damping_width_eV"] == info["damping_width_eV"])
    # with the chosen width the validation forces are those the table reports
    from ase_mlham.training.calibration import head_energy_forces

    errors = [np.abs(head_energy_forces(model, item)[1].numpy() - item.forces).ravel() for item in items]
    chosen = next(row for row in info["damping_widths"] if row["damping_width_eV"] == info["damping_width_eV"])
    assert np.concatenate(errors).mean() == pytest.approx(chosen["forces_mae_eV_per_A"], rel=1e-12)


def test_restarted_xtb_equals_a_fresh_start_along_a_trajectory():
    from ase_mlham.model.baseline import XTBBaseline

    atoms = distorted("CH3CONH2", seed=6)
    baseline = XTBBaseline()
    rng = np.random.default_rng(3)
    for _ in range(4):
        atoms.positions += 0.01 * rng.normal(size=atoms.positions.shape)
        energy, forces = baseline(atoms.numbers, atoms.positions)
        fresh_energy, fresh_forces = xtb_energy_forces(atoms.numbers, atoms.positions)
        assert energy == pytest.approx(fresh_energy, abs=1e-9)
        np.testing.assert_allclose(forces, fresh_forces, atol=2e-5)
    water = molecule("H2O")  # other atoms: a fresh calculation
    assert baseline(water.numbers, water.positions)[0] == pytest.approx(
        xtb_energy_forces(water.numbers, water.positions)[0], abs=1e-9)
