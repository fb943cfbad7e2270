"""The ASE calculator: physics properties, the ASE contract and input errors (tiny random model)."""

from pathlib import Path

import numpy as np
import pytest
import torch
from ase import Atoms
from ase.build import molecule
from ase.constraints import FixAtoms
from ase.io import read, write

import ase_mlham
from ase_mlham import calculator as calculator_module
from ase_mlham.calculator import MLHamCalculator
from ase_mlham.descriptors.settings import DescriptorSettings
from ase_mlham.model.io import ModelFileError, save_model
from ase_mlham.model.model import MLHamModel
from ase_mlham.model.testing import randomise
from ase_mlham.model.settings import PRESETS, ModelSettings

FORCE_TOLERANCE = 1e-5  # eV/A


@pytest.fixture(scope="module")
def tiny_model() -> MLHamModel:
    return randomise(MLHamModel(PRESETS["tiny"]))


@pytest.fixture(scope="module")
def tiny_model_file(tiny_model, tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("model") / "tiny.pt"
    save_model(tiny_model, path)
    return path


@pytest.fixture(scope="module")
def calc(tiny_model_file) -> MLHamCalculator:
    return MLHamCalculator(tiny_model_file)


def distorted(name: str, seed: int = 0, stdev: float = 0.05) -> Atoms:
    """A G2 molecule off its symmetric geometry, so no force component vanishes by symmetry."""
    atoms = molecule(name)
    atoms.rattle(stdev=stdev, seed=seed)
    return atoms


def evaluate(calc: MLHamCalculator, atoms: Atoms) -> dict:
    atoms = atoms.copy()
    atoms.calc = calc
    return {"energy": atoms.get_potential_energy(), "forces": atoms.get_forces(),
            "energies": atoms.get_potential_energies(), "eigenvalues": calc.get_eigenvalues(),
            "gap": calc.get_homo_lumo_gap()}


def random_rotation(seed: int) -> np.ndarray:
    q, r = np.linalg.qr(np.random.default_rng(seed).normal(size=(3, 3)))
    q *= np.sign(np.diag(r))
    return q if np.linalg.det(q) > 0 else -q


# --------------------------------------------------------------------------- physics


@pytest.mark.parametrize("name", ["H2O", "CH3CH2OH", "CH3CONH2"])
def test_forces_are_minus_the_energy_gradient(calc, name):
    atoms = distorted(name)
    forces = evaluate(calc, atoms)["forces"]
    assert np.abs(forces).max() > 1e-3  # a non-trivial check
    rng = np.random.default_rng(1)
    step = 1e-4
    directions = [rng.normal(size=forces.shape) for _ in range(2)]
    single = np.zeros_like(forces)
    single[len(atoms) - 1, 2] = 1.0
    for direction in directions + [single]:
        direction /= np.linalg.norm(direction)
        plus, minus = atoms.copy(), atoms.copy()
        plus.positions += step * direction
        minus.positions -= step * direction
        derivative = (evaluate(calc, plus)["energy"] - evaluate(calc, minus)["energy"]) / (2 * step)
        assert -derivative == pytest.approx(float((forces * direction).sum()), abs=FORCE_TOLERANCE)


def test_rotation_translation_permutation(calc):
    atoms = distorted("CH3CH2OH", seed=3)
    reference = evaluate(calc, atoms)

    rotation = random_rotation(7)
    moved = atoms.copy()
    moved.positions = atoms.positions @ rotation.T + np.array([3.0, -12.5, 40.0])
    result = evaluate(calc, moved)
    assert result["energy"] == pytest.approx(reference["energy"], abs=1e-9)
    np.testing.assert_allclose(result["energies"], reference["energies"], atol=1e-9)
    np.testing.assert_allclose(result["eigenvalues"], reference["eigenvalues"], atol=1e-8)
    np.testing.assert_allclose(result["forces"], reference["forces"] @ rotation.T, atol=1e-9)

    order = np.random.default_rng(2).permutation(len(atoms))
    permuted = atoms[order]
    result = evaluate(calc, permuted)
    assert result["energy"] == pytest.approx(reference["energy"], abs=1e-9)
    np.testing.assert_allclose(result["energies"], reference["energies"][order], atol=1e-9)
    np.testing.assert_allclose(result["eigenvalues"], reference["eigenvalues"], atol=1e-8)
    np.testing.assert_allclose(result["forces"], reference["forces"][order], atol=1e-9)


def test_two_distant_copies_are_independent(calc):
    single = distorted("CH3CONH2", seed=4)
    other = single.copy()
    other.positions = single.positions @ random_rotation(5).T + np.array([100.0, 0.0, 0.0])
    reference = evaluate(calc, single)
    pair = evaluate(calc, single + other)
    union = np.sort(np.concatenate([reference["eigenvalues"], reference["eigenvalues"]]))
    np.testing.assert_allclose(pair["eigenvalues"], union, atol=1e-9)
    assert pair["energy"] == pytest.approx(2 * reference["energy"], abs=1e-8)
    np.testing.assert_allclose(pair["forces"][:len(single)], reference["forces"], atol=1e-8)
    assert pair["gap"] == pytest.approx(reference["gap"], abs=1e-9)


def test_excitations_are_stda_of_the_reported_hamiltonian_and_invariant(tiny_model_file):
    from ase_mlham.excitations import STDASettings, stda_from_hamiltonian

    calc = MLHamCalculator(tiny_model_file, n_excitations=4)
    atoms = distorted("CH3CHO", seed=3)
    atoms.calc = calc
    atoms.get_potential_energy()
    energies, strengths = calc.get_excitations()
    assert energies.shape == strengths.shape == (4,) and energies.dtype == np.float64
    # (a random model's gap is small: its S1 may even be negative; the real checks are below)
    assert np.all(np.diff(energies) >= 0) and np.all(strengths * np.sign(energies) >= 0)
    expected = stda_from_hamiltonian(torch.tensor(calc.get_hamiltonian()), atoms.numbers,
                                     torch.tensor(atoms.positions), settings=STDASettings(n_states=4))
    np.testing.assert_allclose(energies, expected.energies.numpy(), atol=1e-9)
    np.testing.assert_allclose(strengths, expected.oscillator_strengths.numpy(), atol=1e-9)
    assert calc.excitation_summary() == {"s1_eV": energies[0], "s1_oscillator_strength": strengths[0]}

    moved = atoms.copy()
    moved.positions = atoms.positions @ random_rotation(11).T + np.array([-4.0, 9.0, 1.5])
    order = np.random.default_rng(4).permutation(len(atoms))
    for other in (moved, atoms[order]):
        other.calc = calc
        np.testing.assert_allclose(calc.get_property("excitation_energies", other), energies, atol=1e-7)
        np.testing.assert_allclose(calc.get_property("oscillator_strengths", other), strengths, atol=1e-7)


def test_excitations_switched_off(tiny_model_file, monkeypatch):
    from ase.calculators.calculator import PropertyNotImplementedError

    from ase_mlham.excitations import STDASettings

    calc = MLHamCalculator(tiny_model_file, n_excitations=0, stda_settings=STDASettings(n_states=3))
    calls = count_calls(calc, monkeypatch)
    atoms = distorted("H2O")
    atoms.calc = calc
    atoms.get_potential_energy()
    with pytest.raises(PropertyNotImplementedError, match="n_excitations=0"):
        calc.get_property("excitation_energies", atoms)
    with pytest.raises(PropertyNotImplementedError, match="n_excitations=0"):
        calc.get_excitations()
    assert len(calls) == 1 and "oscillator_strengths" not in calc.results
    assert all(np.isnan(value) for value in calc.excitation_summary().values())
    # the settings' n_states follows n_excitations
    assert MLHamCalculator(tiny_model_file, n_excitations=2,
                           stda_settings=STDASettings(n_states=7, a_x=0.5)).stda_settings.n_states == 2


# ---------------------------------------------------------------------- ASE contract


def count_calls(calc: MLHamCalculator, monkeypatch) -> list:
    """The parts each model call computed: ``"energy"`` and/or ``"hamiltonian"`` per call."""
    calls = []
    original = calc.model.predict

    def counting(*args, **kwargs):
        calls.append(tuple(part for part in ("energy", "hamiltonian") if kwargs.get(part, True)))
        return original(*args, **kwargs)

    monkeypatch.setattr(calc.model, "predict", counting)
    return calls


def test_only_what_is_asked_is_computed(tiny_model_file, monkeypatch):
    """Forces alone cost no Hamiltonian; asking for the gap afterwards adds it, once; a geometry asked for
    everything at once is one model call."""
    calc = MLHamCalculator(tiny_model_file)
    calls = count_calls(calc, monkeypatch)
    atoms = distorted("CH3CHO", seed=5)
    atoms.calc = calc
    atoms.get_forces(), atoms.get_potential_energy()
    assert calls == [("energy",)] and "eigenvalues" not in calc.results
    assert "excitation_energies" not in calc.results and "orbital_coefficients" not in calc.results
    calc.get_homo_lumo_gap(), calc.get_eigenvalues(), atoms.get_forces()
    assert calls == [("energy",), ("hamiltonian",)] and "excitation_energies" not in calc.results
    calc.get_excitations(), calc.get_orbital_coefficients(), calc.get_overlap()
    assert len(calls) == 2  # excitations and orbitals come from the stored H'
    atoms.positions[0, 0] += 0.01
    calc.calculate(atoms, ["energy", "homo_lumo_gap", "excitation_energies"], ["positions"])
    assert calls[2:] == [("energy", "hamiltonian")]
    assert {"energy", "homo_lumo_gap", "excitation_energies"} <= set(calc.results)


def test_every_part_once_per_geometry_fills_every_property(tiny_model_file, monkeypatch):
    from ase.dft.bandgap import bandgap

    calc = MLHamCalculator(tiny_model_file)
    calls = count_calls(calc, monkeypatch)
    atoms = distorted("CH2OCH2", seed=2)
    atoms.calc = calc
    n_atoms = len(atoms)
    n_orbitals = 4 * 1 + 3 * 5  # 4 H, 2 C, 1 O
    # the uncertainties need a model with an energy baseline and a committee (tests/model/test_baseline.py,
    # test_committee.py)
    names = [name for name in MLHamCalculator.implemented_properties
             if name not in MLHamCalculator.uncertainty_properties + MLHamCalculator.committee_properties]
    results = {name: calc.get_property(name, atoms) for name in names}
    atoms.get_forces(), atoms.get_potential_energy(), calc.get_eigenvalues(), bandgap(calc)
    assert calls == [("energy",), ("hamiltonian",)]  # energy first, then the electronic part, once each

    assert results["free_energy"] == results["energy"]
    assert results["forces"].shape == (n_atoms, 3)
    assert results["energies"].shape == (n_atoms,)
    assert results["energies"].sum() == pytest.approx(results["energy"], abs=1e-10)
    eigenvalues = results["eigenvalues"]
    assert eigenvalues.shape == (1, 1, n_orbitals)
    assert np.all(np.diff(eigenvalues[0, 0]) >= 0)
    hamiltonian, overlap, coefficients = (results[k] for k in ("hamiltonian", "overlap", "orbital_coefficients"))
    for matrix in (hamiltonian, overlap, coefficients):
        assert matrix.shape == (n_orbitals, n_orbitals) and matrix.dtype == np.float64
    np.testing.assert_allclose(hamiltonian, hamiltonian.T, atol=1e-12)
    np.testing.assert_allclose(np.linalg.eigvalsh(hamiltonian), eigenvalues[0, 0], atol=1e-10)
    np.testing.assert_allclose(overlap, overlap.T, atol=1e-14)
    np.testing.assert_allclose(np.diag(overlap), 1.0, atol=1e-6)
    np.testing.assert_allclose(coefficients.T @ coefficients, np.eye(n_orbitals), atol=1e-10)
    np.testing.assert_allclose(coefficients.T @ hamiltonian @ coefficients, np.diag(eigenvalues[0, 0]), atol=1e-9)

    nocc = (8 * 1 + 6 * 2 + 4) // 2
    homo, lumo = calc.get_homo_lumo()
    assert (homo, lumo) == (eigenvalues[0, 0, nocc - 1], eigenvalues[0, 0, nocc])
    assert results["homo_lumo_gap"] == pytest.approx(lumo - homo)
    assert results["fermi_level"] == pytest.approx(0.5 * (homo + lumo))
    assert calc.get_fermi_level() == pytest.approx(0.5 * (homo + lumo))
    assert calc.get_number_of_bands() == n_orbitals
    assert calc.get_number_of_spins() == 1
    np.testing.assert_array_equal(calc.get_k_point_weights(), [1.0])
    assert calc.get_ibz_k_points().shape == (1, 3)
    assert calc.get_occupation_numbers().sum() == 2 * nocc
    gap, valence, conduction = bandgap(calc)
    assert gap == pytest.approx(lumo - homo, abs=1e-12)
    assert valence == (0, 0, nocc - 1) and conduction == (0, 0, nocc)
    assert calc.orbital_summary()["homo_lumo_gap"] == pytest.approx(lumo - homo)

    nonorthogonal = calc.get_nonorthogonal_hamiltonian()
    ao_coefficients = calc.get_orbital_coefficients(orthogonal=False)
    np.testing.assert_allclose(ao_coefficients.T @ overlap @ ao_coefficients, np.eye(n_orbitals), atol=1e-9)
    np.testing.assert_allclose(ao_coefficients.T @ nonorthogonal @ ao_coefficients, np.diag(eigenvalues[0, 0]),
                               atol=1e-8)
    assert len(calls) == 2

    same = atoms.copy()
    same.calc = calc
    same.get_potential_energy()
    assert len(calls) == 2  # same geometry: cached
    atoms.positions[0, 0] += 0.01
    for name in names:
        calc.get_property(name, atoms)
    calc.get_homo_lumo(), bandgap(calc)
    assert len(calls) == 4
    with pytest.raises(IndexError, match="one k-point and one spin channel"):
        calc.get_eigenvalues(spin=1)


def test_model_argument_forms(tiny_model, tiny_model_file):
    water = distorted("H2O")
    from_path = evaluate(MLHamCalculator(str(tiny_model_file)), water)
    from_model = evaluate(MLHamCalculator(tiny_model), water)
    assert from_model["energy"] == from_path["energy"]
    single = evaluate(MLHamCalculator(tiny_model, dtype="float32"), water)
    assert single["energy"] == pytest.approx(from_path["energy"], abs=1e-3)
    np.testing.assert_allclose(single["eigenvalues"], from_path["eigenvalues"], atol=1e-3)
    assert next(tiny_model.parameters()).dtype == torch.float64  # the caller's model is not moved
    assert ase_mlham.load_model(tiny_model_file).species == tiny_model.species


def test_velocity_verlet_conserves_energy(calc):
    from ase import units
    from ase.md.velocitydistribution import thermalize_momenta
    from ase.md.verlet import VelocityVerlet

    atoms = molecule("CH3OH")
    atoms.calc = calc
    thermalize_momenta(atoms, temperature_K=300, rng=np.random.default_rng(0))
    start = atoms.get_total_energy()
    positions = atoms.get_positions()
    VelocityVerlet(atoms, timestep=0.25 * units.fs).run(6)
    assert not np.allclose(atoms.positions, positions)
    assert atoms.get_total_energy() == pytest.approx(start, abs=2e-3)


def test_bfgs_and_fire_respect_fixed_atoms(calc, tmp_path):
    from ase.optimize import BFGS, FIRE

    atoms = distorted("CH3CH2OH", seed=5, stdev=0.02)
    fixed = [0, 1]
    atoms.set_constraint(FixAtoms(indices=fixed))
    atoms.calc = calc
    start_positions, start_energy = atoms.get_positions(), atoms.get_potential_energy()
    trajectory = tmp_path / "opt.traj"
    BFGS(atoms, trajectory=str(trajectory), logfile=None, maxstep=0.02).run(fmax=1e-4, steps=3)
    FIRE(atoms, logfile=None, maxstep=0.02).run(fmax=1e-4, steps=2)
    np.testing.assert_array_equal(atoms.positions[fixed], start_positions[fixed])
    assert not np.allclose(atoms.positions[2:], start_positions[2:])
    assert atoms.get_potential_energy() < start_energy
    frames = read(trajectory, ":")
    assert len(frames) == 4 and "energy" in frames[-1].calc.results


def test_extxyz_trajectory_keeps_energy_forces_and_orbital_info(calc, tmp_path):
    from ase_mlham.md import snapshot

    atoms = distorted("H2O")
    atoms.calc = calc
    atoms.get_forces()
    path = tmp_path / "water.extxyz"
    write(path, atoms)  # plain ASE: the standard results survive, non-standard ones are dropped
    write(path, snapshot(atoms, step=0), append=True)  # plus the orbital quantities
    plain, logged = read(path, ":")
    for frame in (plain, logged):
        assert frame.get_potential_energy() == pytest.approx(atoms.get_potential_energy(), abs=1e-10)
        np.testing.assert_allclose(frame.get_forces(), atoms.get_forces(), atol=1e-8)
    homo, lumo = calc.get_homo_lumo()
    assert logged.info["homo"] == pytest.approx(homo) and logged.info["lumo"] == pytest.approx(lumo)
    assert logged.info["homo_lumo_gap"] == pytest.approx(lumo - homo)


def test_implemented_properties_is_a_class_constant(calc):
    assert MLHamCalculator.implemented_properties is calc.implemented_properties
    assert len(set(MLHamCalculator.implemented_properties)) == 17
    assert set(MLHamCalculator.excitation_properties) <= set(MLHamCalculator.implemented_properties)


# ------------------------------------------------------------------------- errors


def check_raises(calc, atoms, match):
    atoms.calc = calc
    with pytest.raises(ValueError, match=match):
        atoms.get_potential_energy()


def charged(charge=None, spin=None):
    atoms = molecule("H2O")
    if charge is not None:
        atoms.info["charge"] = charge
    if spin is not None:
        atoms.info["spin"] = spin
    return atoms


@pytest.mark.parametrize("atoms, match", [
    (molecule("SH2"), r"does not know element\(s\) S; it supports H, C, N, O"),
    (molecule("SiH4"), r"element\(s\) Si"),
    (charged(charge=1), r"charge 1 and spin 0 requested; only neutral closed-shell"),
    (charged(spin=2), r"charge 0 and spin 2 requested"),
    (Atoms("H2O", positions=molecule("H2O").positions, magmoms=[0, 1, 1]), r"spin 2.0 requested"),
    (Atoms("CH3", positions=molecule("CH3").positions), r"odd electron count \(9\)"),
    (molecule("CH3"), r"CH3: odd electron count \(9\)"),  # as mlham md says it, magnetic moment or not
    (Atoms("H2O", positions=molecule("H2O").positions, cell=[10, 10, 10], pbc=True),
     r"periodic boundary conditions \[True, True, True\] are not supported"),
    (Atoms("H2", positions=[[0, 0, 0], [0, 0, 0.3]]), r"0\.300 A apart, closer than the physical minimum 0\.6 A"),
    (Atoms("H2", positions=[[0, 0, 0], [0, 0, 0.55]]), r"0\.550 A apart, closer than the physical minimum"),
    (Atoms("H2O", positions=molecule("H2O").positions, charges=[-1, 0, 0]),
     r"initial charges \(Atoms.get_initial_charges\(\)\) sum to -1; only neutral"),
    (Atoms("H2", positions=[[0, 0, 0], [0, 0, np.nan]]), "positions contain NaN or inf"),
    (Atoms("H2", positions=[[0, 0, 0], [0, 0, np.inf]]), "positions contain NaN or inf"),
    (Atoms(), "no atoms"),
], ids=["sulfur", "silicon", "charge", "spin", "magmoms", "odd", "radical", "pbc", "close", "close-0.55", "initial-charges", "nan", "inf", "empty"])
def test_bad_molecules_raise(calc, atoms, match):
    check_raises(calc, atoms, match)
    # a valid molecule afterwards works (the failure left no stale state)
    water = molecule("H2O")
    water.calc = calc
    assert np.isfinite(water.get_potential_energy())


def test_element_the_model_was_not_trained_on(tmp_path):
    settings = ModelSettings(descriptor=DescriptorSettings(**{**PRESETS["tiny"].descriptor.__dict__,
                                                              "species": (1, 6, 8)}),
                             gate_channels=2, energy_hidden=(8,))
    calc = MLHamCalculator(randomise(MLHamModel(settings)))
    check_raises(calc, molecule("NH3"), r"model does not know element\(s\) N; it supports H, C, O")


def test_changing_the_charge_in_info_is_noticed(calc):
    atoms = molecule("H2O")
    atoms.calc = calc
    atoms.get_potential_energy()
    atoms.info["charge"] = -2
    with pytest.raises(ValueError, match="charge -2"):
        atoms.get_potential_energy()


def test_model_file_errors(tmp_path, monkeypatch):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        MLHamCalculator(tmp_path / "missing.pt")
    corrupt = tmp_path / "corrupt.pt"
    corrupt.write_bytes(b"not a model at all")
    with pytest.raises(ModelFileError, match=r"corrupt\.pt' is not a PyTorch archive written by `mlham train` "
                                             r"\(corrupt, truncated or another kind of file; \w+\)$"):
        MLHamCalculator(corrupt)
    text = tmp_path / "text.pt"
    text.write_text("hello\n")
    with pytest.raises(ModelFileError, match="is not a PyTorch archive") as error:
        MLHamCalculator(text)
    assert "weights_only" not in str(error.value) and ": 101" not in str(error.value)
    monkeypatch.setattr(calculator_module, "DEFAULT_MODEL_PATH", tmp_path / "models" / "default.pt")
    with pytest.raises(FileNotFoundError, match="default model is missing from this installation"):
        MLHamCalculator()


def test_bad_arguments(tiny_model):
    with pytest.raises(TypeError, match="model must be None .* got int"):
        MLHamCalculator(3)
    with pytest.raises(ValueError, match="dtype must be 'float64' or 'float32', got 'float16'"):
        MLHamCalculator(tiny_model, dtype="float16")
    with pytest.raises(ValueError, match="device must name a torch device"):
        MLHamCalculator(tiny_model, device="abacus")
    with pytest.raises(RuntimeError, match="has no structure yet"):
        MLHamCalculator(tiny_model).get_eigenvalues()
    with pytest.raises(ValueError, match="n_excitations must be a non-negative integer"):
        MLHamCalculator(tiny_model, n_excitations=-1)
    with pytest.raises(ValueError, match="n_excitations must be a non-negative integer"):
        MLHamCalculator(tiny_model, n_excitations=2.5)
    with pytest.raises(TypeError, match="stda_settings must be an STDASettings or None, got dict"):
        MLHamCalculator(tiny_model, stda_settings={"a_x": 0.2})


def test_a_molecule_larger_than_any_validated_one_warns_once_per_size():
    import warnings

    from ase_mlham import SizeWarning
    from ase_mlham.model.testing import random_tiny_model

    model = random_tiny_model()
    model.metadata = {"largest_molecule_atoms": 5}
    calc = MLHamCalculator(model, n_excitations=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error", SizeWarning)
        calc.get_potential_energy(molecule("CH4"))  # 5 atoms: as large as validated, no warning
    ethane = molecule("C2H6")
    with pytest.warns(SizeWarning, match=r"C2H6: 8 atoms, more than the largest molecule this model was trained "
                                          r"or validated on \(5 atoms\)"):
        calc.get_potential_energy(ethane)
    ethane.positions[0, 0] += 0.01
    with warnings.catch_warnings():
        warnings.simplefilter("error", SizeWarning)
        calc.get_potential_energy(ethane)  # the next MD step: the same size, no second warning


def test_one_eigensolve_of_h_prime_per_geometry(tiny_model_file, monkeypatch):
    """Energy, gap, excitations and orbital coefficients of one geometry share one eigendecomposition of H'
    (issue 24); the coefficients are its eigenvectors."""
    calc = MLHamCalculator(tiny_model_file, n_excitations=2)
    atoms = molecule("CH3OH")
    atoms.calc = calc
    n_ao = 14
    solves = []
    for name in ("eigh", "eigvalsh"):
        original = getattr(torch.linalg, name)

        def counted(matrix, *args, _original=original, _name=name, **kwargs):
            if matrix.shape == (n_ao, n_ao):  # H' or the overlap (not the committee's batch, not sTDA's matrix)
                solves.append((_name, matrix.detach().clone()))
            return _original(matrix, *args, **kwargs)

        monkeypatch.setattr(torch.linalg, name, counted)
    atoms.get_forces()
    calc.get_property("homo_lumo_gap", atoms)
    calc.get_property("excitation_energies", atoms)
    coefficients = calc.get_property("orbital_coefficients", atoms)
    hamiltonian, eigenvalues = calc.results["hamiltonian"], calc.results["eigenvalues"][0, 0]
    assert [name for name, matrix in solves if np.allclose(matrix.numpy(), hamiltonian)] == ["eigh"]
    np.testing.assert_allclose(hamiltonian @ coefficients, coefficients * eigenvalues, atol=1e-10)
    without = MLHamCalculator(tiny_model_file, n_excitations=0)  # nothing asks for vectors: eigenvalues only
    solves.clear()
    without.get_property("homo_lumo_gap", molecule("CH3OH"))
    assert [name for name, _ in solves] == ["eigvalsh"]
