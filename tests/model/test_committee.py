"""The committee of Hamiltonians: uncertainties of orbital energies, gap and excitations, their
symmetry, fitting, calibration, thresholds and warnings."""

import warnings

import numpy as np
import pytest
import torch
from ase.build import molecule
from ase.calculators.calculator import PropertyNotImplementedError

from ase_mlham import UncertaintyWarning
from ase_mlham.calculator import MLHamCalculator
from ase_mlham.data.dataset import read_frames
from ase_mlham.model.testing import random_tiny_delta_model, random_tiny_model
from ase_mlham.training.committee import (calibrate_committee, fit_bootstrap_members, fit_path_members,
                                           molecule_subsets, normal_equations, ridge_strengths,
                                           subset_normal_equations)


@pytest.fixture(scope="module")
def model():
    return random_tiny_delta_model(seed=1)


def distorted(name, seed=0):
    atoms = molecule(name)
    atoms.rattle(0.05, seed=seed)
    return atoms


def test_members_differ_and_their_spread_is_the_uncertainty(model):
    atoms = distorted("CH3CHO")
    prediction = model.predict(atoms.numbers, atoms.positions, forces=False)
    assert len(prediction.member_hamiltonians) == 4
    members = torch.stack(list(prediction.member_hamiltonians))  # assembled one at a time
    assert members.shape == (4, *prediction.hamiltonian.shape)
    assert float((members[0] - members[1]).abs().max()) > 1e-3
    np.testing.assert_array_equal(prediction.member_hamiltonians[-1], members[3])
    with pytest.raises(IndexError, match="member 4 of a committee of 4"):
        prediction.member_hamiltonians[4]
    energies = torch.linalg.eigvalsh(members)
    np.testing.assert_allclose(prediction.member_orbital_energies, energies, rtol=0, atol=1e-12)
    np.testing.assert_allclose(prediction.orbital_energy_uncertainties, energies.std(0), rtol=1e-12)
    gaps = energies[:, prediction.nocc] - energies[:, prediction.nocc - 1]
    assert float(prediction.gap_uncertainty) == pytest.approx(float(gaps.std()), rel=1e-12)


def test_uncertainties_are_invariant(model):
    atoms = distorted("CH3CH2OH", seed=2)
    calc = MLHamCalculator(model, n_excitations=3)
    reference = [calc.get_property(name, atoms) for name in MLHamCalculator.committee_properties]
    moved = atoms.copy()
    moved.rotate(63, (1, 2, 3))
    moved.positions += (4.0, -1.0, 2.0)
    permuted = atoms[np.random.default_rng(0).permutation(len(atoms))]
    for other in (moved, permuted):
        calc = MLHamCalculator(model, n_excitations=3)
        for name, value in zip(MLHamCalculator.committee_properties, reference):
            np.testing.assert_allclose(calc.get_property(name, other), value, rtol=1e-7, atol=1e-9)


def test_names_shapes_and_units_of_the_uncertainty_results(model):
    atoms = distorted("C2H4")
    calc = MLHamCalculator(model, n_excitations=3)
    atoms.calc = calc
    n_orbitals = 4 + 2 * 5
    assert calc.get_property("orbital_energy_uncertainties", atoms).shape == (n_orbitals,)
    assert np.ndim(calc.get_property("gap_uncertainty", atoms)) == 0
    assert calc.get_property("excitation_energy_uncertainties", atoms).shape == (3,)
    assert calc.get_property("forces_uncertainty", atoms).shape == (len(atoms),)
    quiet = MLHamCalculator(model, n_excitations=0)
    atoms.calc = quiet
    with pytest.raises(PropertyNotImplementedError, match="n_excitations=0"):
        quiet.get_property("excitation_energy_uncertainties", atoms)
    plain = MLHamCalculator(random_tiny_model(), n_excitations=0)
    with pytest.raises(PropertyNotImplementedError, match="needs a model with a committee"):
        plain.get_property("gap_uncertainty", atoms)


def test_excitation_uncertainties_only_when_asked_for(model, monkeypatch):
    """sTDA for every committee member is the dear part of a step with excitations: not done for the
    excitation energies alone, done (once per geometry) when their uncertainties are asked for."""
    atoms = distorted("C2H4")
    calc = MLHamCalculator(model, n_excitations=3)
    atoms.calc = calc
    calls = []
    original = MLHamCalculator._excitation_uncertainties
    monkeypatch.setattr(MLHamCalculator, "_excitation_uncertainties",
                        lambda self, *args: calls.append(1) or original(self, *args))
    energies = calc.get_property("excitation_energies", atoms)
    assert calls == [] and "excitation_energy_uncertainties" not in calc.results
    sigma = calc.get_property("excitation_energy_uncertainties", atoms)
    calc.get_property("excitation_energy_uncertainties", atoms)
    assert calls == [1] and sigma.shape == energies.shape == (3,)
    np.testing.assert_array_equal(calc.get_property("excitation_energies", atoms), energies)
    fresh = MLHamCalculator(model, n_excitations=3)  # asked first: the excitations come with it
    np.testing.assert_allclose(fresh.get_property("excitation_energy_uncertainties", atoms), sigma, rtol=1e-12)
    np.testing.assert_allclose(fresh.results["excitation_energies"], energies, rtol=1e-12)


def test_one_warning_per_structure_above_a_threshold_and_none_below(model):
    atoms = distorted("H2CO")
    calc = MLHamCalculator(model, n_excitations=0, uncertainty_threshold={"gap": 1e-9, "energy": 1e-9})
    assert calc.uncertainty_threshold == {"gap": 1e-9, "energy": 1e-9}
    atoms.calc = calc
    with pytest.warns(UncertaintyWarning, match=r"energy sigma .* > 1e-09") as record:
        atoms.get_potential_energy()
        atoms.get_forces()
        calc.get_homo_lumo_gap()  # the gap crosses too, but it is the same structure: no second warning
    assert len(record) == 1
    assert calc.uncertainty_crossings()[0].startswith("gap sigma")  # both are known now
    with pytest.warns(UncertaintyWarning, match=r"gap sigma .* > 1e-09; energy sigma"):
        calc.calculate(atoms.copy(), ["energy", "homo_lumo_gap"], ["positions"])  # a new structure, all at once
    atoms.calc = MLHamCalculator(model, n_excitations=0, uncertainty_threshold={"gap": 1e9})
    with warnings.catch_warnings():
        warnings.simplefilter("error", UncertaintyWarning)
        atoms.get_potential_energy()


@pytest.mark.parametrize("threshold, error, message", [
    ([0.3], TypeError, "uncertainty_threshold must be a dict"),
    ({"homo": 0.3}, ValueError, r"unknown quantities \['homo'\]"),
    ({"gap": -1}, ValueError, r"uncertainty_threshold\['gap'\] must be a positive number"),
])
def test_bad_thresholds_are_named(model, threshold, error, message):
    with pytest.raises(error, match=message):
        MLHamCalculator(model, uncertainty_threshold=threshold)


def test_path_members_are_centred_ridge_fits_and_calibration_matches_errors(g2_db):
    model = random_tiny_delta_model(seed=2)
    frames = read_frames(g2_db, molecule="CH3OH")
    equations = normal_equations(model, frames[:6])
    strengths = fit_path_members(model, equations)
    committee = model.committee
    assert strengths[0] == pytest.approx(1e-6) and strengths[-1] == pytest.approx(1e-1)
    np.testing.assert_allclose(strengths, ridge_strengths(committee.n_members))
    fitted = [key for key in committee.keys if key in equations.gram]
    assert fitted and len(fitted) < len(committee.keys)  # CH3OH has no N: the N keys are never seen
    for key in committee.keys:
        samples = committee.weights(key)
        if key not in equations.gram:  # never seen in training: no spread
            assert float(samples.abs().max()) == 0.0
            continue
        np.testing.assert_allclose(samples.sum(0), 0.0, atol=1e-9 * max(float(samples.abs().max()), 1.0))
        # member m is the fit at strength m minus the mean fit; the bias (on-site lambda 0) is not perturbed
        fits = torch.stack([equations.solve(key, float(x)) for x in strengths])[:, :samples.shape[1]]
        np.testing.assert_allclose(samples[0] - samples[-1], fits[0] - fits[-1], rtol=1e-10, atol=1e-12)
    assert any(float(committee.weights(key).abs().max()) > 0 for key in fitted)
    # the weak and strong fits themselves: the strongest shrinks the weights
    key = max(fitted, key=lambda k: len(equations.gram[k]))
    n = committee.weights(key).shape[1]
    assert float(equations.solve(key, 1e-1)[:n].norm()) < float(equations.solve(key, 1e-6)[:n].norm())
    info = calibrate_committee(model, frames[6:10])
    assert info["orbital_scale"] > 0 and info["gap_scale"] > 0
    assert float(committee.excitation_scale) == info["gap_scale"]


def test_the_closed_form_starts_sums_serve_the_committee(g2_db):
    """fit_model hands the closed-form start's ridge sums (prepared frames) to the committee: they are the
    sums the committee would compute from the frames themselves."""
    from ase_mlham.training.initialise import item_normal_equations
    from ase_mlham.training.run import prepare_inputs

    model = random_tiny_delta_model(seed=3)
    frames = read_frames(g2_db, molecule="CH3OH")[:3] + read_frames(g2_db, molecule="NH3")[:2]
    from_items = item_normal_equations(model, prepare_inputs(model, frames, "train", False))
    from_frames = normal_equations(model, frames)
    assert from_items.gram.keys() == from_frames.gram.keys()
    for key in from_frames.gram:
        torch.testing.assert_close(from_items.gram[key], from_frames.gram[key], rtol=1e-12, atol=1e-12)
        torch.testing.assert_close(from_items.moment[key], from_frames.moment[key], rtol=1e-12, atol=1e-12)
        assert from_items.count[key] == from_frames.count[key]


def test_bootstrap_members_are_centred_fits_to_halves_of_the_training_molecules(g2_db):
    model = random_tiny_delta_model(seed=3)
    frames = (read_frames(g2_db, molecule="CH3OH")[:3] + read_frames(g2_db, molecule="NH3")[:2]
              + read_frames(g2_db, molecule="H2O")[:2] + read_frames(g2_db, molecule="CH4")[:2])
    n = model.committee.n_members
    subsets = molecule_subsets([frame.molecule for frame in frames], n, 0.5, seed=4)
    assert len(subsets) == n and all(len(subset) == 2 for subset in subsets)
    assert molecule_subsets([frame.molecule for frame in frames], n, 0.5, seed=4) == subsets  # reproducible
    assert len({frozenset(subset) for subset in subsets}) > 1
    parts = subset_normal_equations(model, frames, subsets)
    # a subset's sums are those of its molecules' frames, computed directly
    direct = normal_equations(model, [frame for frame in frames if frame.molecule in subsets[0]])
    assert parts[0].gram.keys() == direct.gram.keys()
    for key in direct.gram:
        torch.testing.assert_close(parts[0].gram[key], direct.gram[key], rtol=1e-12, atol=1e-12)
        torch.testing.assert_close(parts[0].moment[key], direct.moment[key], rtol=1e-12, atol=1e-12)
    fit_bootstrap_members(model, parts, 1e-2, 1e-4)
    committee = model.committee
    for key in committee.keys:
        samples = committee.weights(key)
        present = [i for i, part in enumerate(parts) if key in part.gram]
        if not present:  # no training molecule has it (no N-N pair here)
            assert float(samples.abs().max()) == 0.0
            continue
        np.testing.assert_allclose(samples.sum(0), 0.0, atol=1e-9 * max(float(samples.abs().max()), 1.0))
        strength = 1e-2 if key.kind == "onsite" else 1e-4
        fits = [parts[i].solve(key, strength)[:samples.shape[1]] for i in present]
        np.testing.assert_allclose(samples[present[0]] - samples[present[-1]], fits[0] - fits[-1],
                                   rtol=1e-9, atol=1e-12)
        for i in set(range(n)) - set(present):  # a subset without the key: the mean fit, no perturbation
            assert float(samples[i].abs().max()) == 0.0
    # keys every molecule shows (H on-site) are fitted to different molecule sets: the members really differ
    assert max(float(committee.weights(key).abs().max()) for key in committee.keys) > 1e-6
    with pytest.raises(ValueError, match="3 subsets for a committee of"):
        fit_bootstrap_members(model, parts[:3], 1e-2)
    with pytest.raises(ValueError, match=r"the bootstrap fraction must be in \(0, 1\]"):
        molecule_subsets(["H2O"], n, 1.5)


