"""The PES class in-process: the unit round trip, the cell, the extras and the option errors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from ase.build import molecule

pytest.importorskip("ipi", reason="i-PI is not installed (pip install ipi)")

from ase_mlham.calculator import MLHamCalculator  # noqa: E402
from ipi.utils.units import unit_to_internal, unit_to_user  # noqa: E402
from ipi_driver import PES_FILE  # noqa: E402
from ipi_driver.extras import EXCITATION_KEYS, EXTRA_KEYS, orbital_extras  # noqa: E402
from ipi_driver.pes import MLHamDriver  # noqa: E402


@pytest.fixture
def driver(tiny_model: Path, water_xyz: Path) -> MLHamDriver:
    return MLHamDriver(template=str(water_xyz), model=str(tiny_model))


def _bohr(positions_angstrom: np.ndarray) -> np.ndarray:
    return unit_to_internal("length", "angstrom", positions_angstrom)


def test_energy_forces_match_the_ase_calculator(driver: MLHamDriver, tiny_model: Path) -> None:
    """Through the socket units (Bohr in, Hartree out) the numbers equal the calculator's in eV."""
    atoms = molecule("H2O")
    atoms.rattle(0.05, seed=3)
    atoms.calc = MLHamCalculator(model=tiny_model)
    energy, forces = atoms.get_potential_energy(), atoms.get_forces()

    pot, force, vir, extras = driver.compute_structure(np.eye(3) * 40.0, _bohr(atoms.positions))

    assert isinstance(pot, float) and force.dtype == np.float64 and force.shape == (3, 3)
    assert force.flags.c_contiguous
    np.testing.assert_allclose(unit_to_user("energy", "electronvolt", pot), energy, rtol=1e-8, atol=0)
    np.testing.assert_allclose(unit_to_user("force", "ev/ang", force), forces, rtol=1e-8,
                               atol=1e-8 * np.abs(forces).max())
    np.testing.assert_array_equal(vir, np.zeros((3, 3)))
    data = json.loads(extras)
    assert data["gap_eV"] == pytest.approx(atoms.calc.get_homo_lumo_gap(), rel=1e-12)


def test_cell_is_ignored(driver: MLHamDriver) -> None:
    """An isolated molecule: any cell (small, skewed, zero) gives the same result and a zero virial."""
    positions = _bohr(molecule("H2O").positions)
    reference = driver.compute_structure(np.eye(3) * 37.8, positions)
    for cell in (np.eye(3) * 2.0, np.array([[10.0, 3.0, 1.0], [0.0, 9.0, 2.0], [0.0, 0.0, 8.0]]), np.zeros((3, 3))):
        pot, force, vir, extras = driver.compute_structure(cell, positions)
        assert pot == reference[0]
        np.testing.assert_array_equal(force, reference[1])
        np.testing.assert_array_equal(vir, 0.0)
        assert extras == reference[3]


def test_flat_positions_and_callable_contract(driver: MLHamDriver) -> None:
    """i-PI's base class calls ``driver(cell, pos)``; flat ``3 n_atoms`` positions are accepted too."""
    positions = _bohr(molecule("H2O").positions)
    pot, force, _, _ = driver(np.eye(3), positions.ravel())
    assert pot == driver.compute_structure(np.eye(3), positions)[0]
    batched = driver([np.eye(3), np.eye(3)], [positions, positions])
    assert len(batched) == 2 and batched[1][0] == pot


def test_extras_content(driver: MLHamDriver) -> None:
    _, _, _, extras = driver.compute_structure(np.eye(3), _bohr(molecule("H2O").positions))
    data = json.loads(extras)
    assert set(EXTRA_KEYS) <= set(data) <= set(EXTRA_KEYS) | set(EXCITATION_KEYS)
    orbitals = np.array(data["orbital_energies_eV"])
    assert orbitals.shape == (7,) and np.all(np.diff(orbitals) >= 0)  # STO-3G water: 5 + 1 + 1 functions
    nocc = 5
    assert data["homo_eV"] == orbitals[nocc - 1] and data["lumo_eV"] == orbitals[nocc]
    assert data["gap_eV"] == pytest.approx(data["lumo_eV"] - data["homo_eV"], abs=1e-12)


def test_excitations_follow_the_calculator(tiny_model: Path, water_xyz: Path) -> None:
    """``n_excitations=k``: k sTDA states (eV) and oscillator strengths; ``0``: none in the extras."""
    positions = _bohr(molecule("H2O").positions)
    driver = MLHamDriver(template=str(water_xyz), model=str(tiny_model), n_excitations=3)
    data = json.loads(driver.compute_structure(np.eye(3), positions)[3])
    energies, strengths = driver.calculator.get_excitations()
    assert len(energies) == 3
    assert data["excitation_energies_eV"] == energies.tolist()
    assert data["oscillator_strengths"] == strengths.tolist()

    silent = MLHamDriver(template=str(water_xyz), model=str(tiny_model), n_excitations=0)
    assert set(json.loads(silent.compute_structure(np.eye(3), positions)[3])) == set(EXTRA_KEYS)


def test_excitation_results_reported_when_present(driver: MLHamDriver) -> None:
    """Whatever excitation results the calculator holds go into the extras (eV, as lists)."""
    driver.compute_structure(np.eye(3), _bohr(molecule("H2O").positions))
    driver.calculator.results["excitation_energies"] = np.array([7.5, 9.25])
    driver.calculator.results["oscillator_strengths"] = np.array([0.0, 0.125])
    extras = orbital_extras(driver.calculator)
    assert extras["excitation_energies_eV"] == [7.5, 9.25] and extras["oscillator_strengths"] == [0.0, 0.125]


def test_atom_count_mismatch(driver: MLHamDriver) -> None:
    with pytest.raises(ValueError, match=r"i-PI sent 4 atoms but the template .* has 3"):
        driver.compute_structure(np.eye(3), np.zeros((4, 3)))


def test_template_charge_is_honoured(tiny_model: Path, tmp_path: Path) -> None:
    """The electronic state comes from the template: a charged one is refused before connecting."""
    atoms = molecule("H2O")
    atoms.info["charge"] = 1
    atoms.write(tmp_path / "cation.extxyz")
    with pytest.raises(ValueError, match=r"template .* cannot be computed: .*charge 1"):
        MLHamDriver(template=str(tmp_path / "cation.extxyz"), model=str(tiny_model))


@pytest.mark.parametrize(("options", "error", "message"), [
    ({"model": "M", "foo": 1}, ValueError, r"unknown option\(s\) 'foo'; accepted keys: template, model"),
    ({"model": "M"}, ValueError, r"template=<structure file> is required"),
    ({"template": "missing.xyz", "model": "M"}, FileNotFoundError, r"template file 'missing.xyz' does not exist"),
    ({"template": "garbage.xyz", "model": "M"}, ValueError, r"cannot read template 'garbage.xyz' with ase.io.read"),
    ({"template": "init.xyz", "model": "nowhere.pt"}, FileNotFoundError, r"model file 'nowhere.pt' does not exist"),
    ({"template": "init.xyz", "model": "M", "device": "nonsense"}, ValueError, r"device must name a torch device"),
    ({"template": "init.xyz", "model": "M", "dtype": "float16"}, ValueError, r"dtype must be 'float64' or 'float32'"),
    ({"template": "init.xyz", "model": "M", "n_excitations": -1}, ValueError, r"n_excitations must be a non-negative"),
])
def test_malformed_options(options: dict, error: type, message: str, tiny_model: Path, water_xyz: Path,
                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(water_xyz.parent)
    (water_xyz.parent / "garbage.xyz").write_text("this is not\na structure file\n")
    options = {key: str(tiny_model) if value == "M" else value for key, value in options.items()}
    with pytest.raises(error, match=message):
        MLHamDriver(**options)


def test_positional_options_rejected(water_xyz: Path) -> None:
    with pytest.raises(ValueError, match=r"options must be given as key=value .* positional value\(s\) 'init.xyz'"):
        MLHamDriver("init.xyz")


def test_default_model_is_the_shipped_one(water_xyz: Path, monkeypatch, tmp_path: Path) -> None:
    """Without ``model=`` the driver asks the calculator for the shipped default model (the file in the
    package, bit for bit), and says so clearly when an installation lacks it."""
    import ase_mlham.calculator as calculator_module
    from ase_mlham.model.io import load_model

    driver = MLHamDriver(template=str(water_xyz))
    shipped = load_model(calculator_module.DEFAULT_MODEL_PATH)
    for name, tensor in shipped.state_dict().items():
        assert torch.equal(driver.calculator.model.state_dict()[name], tensor), name
    monkeypatch.setattr(calculator_module, "DEFAULT_MODEL_PATH", tmp_path / "models" / "default.pt")
    with pytest.raises(FileNotFoundError, match="default model is missing"):
        MLHamDriver(template=str(water_xyz))


def test_pes_file_is_loadable_by_path() -> None:
    """What ``i-pi-py_driver -m custom -P <file>`` does: i-PI's own loader finds the class."""
    import sys

    from ipi.pes import load_pes, scan_pes_file

    assert scan_pes_file(str(PES_FILE)) == ("MLHamDriver", "mlham")
    had_pes = "pes" in sys.modules
    try:
        assert load_pes("custom", str(PES_FILE)).__name__ == "MLHamDriver"
    finally:
        if not had_pes:  # i-PI's loader registers the file as the module "pes": leave no trace
            sys.modules.pop("pes", None)


def test_uncertainties_travel_as_extras_under_the_calculators_names(tmp_path: Path, water_xyz: Path) -> None:
    from ase_mlham.model.io import save_model
    from ase_mlham.model.testing import random_tiny_delta_model
    from ipi_driver.extras import UNCERTAINTY_KEYS

    save_model(random_tiny_delta_model(seed=5), tmp_path / "delta.pt")
    driver = MLHamDriver(template=str(water_xyz), model=str(tmp_path / "delta.pt"), n_excitations=2)
    atoms = molecule("H2O")
    *_, extras = driver.compute_structure(np.eye(3) * 40.0, _bohr(atoms.positions))
    decoded = json.loads(extras)
    assert set(UNCERTAINTY_KEYS) <= set(decoded)
    calc = driver.calculator
    for key in UNCERTAINTY_KEYS:
        np.testing.assert_allclose(decoded[key], calc.results[key], rtol=1e-15)
    assert len(decoded["forces_uncertainty"]) == 3 and len(decoded["orbital_energy_uncertainties"]) == 7
