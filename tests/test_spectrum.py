"""Absorption spectra (``ase_mlham.spectrum`` and ``mlham spectrum``): broadening, sources of sticks, the PNG."""

import csv
import math
import re
from pathlib import Path

import numpy as np
import pytest
from ase.build import molecule
from ase.io import write

from ase_mlham.calculator import MLHamCalculator
from ase_mlham.cli import main
from ase_mlham.md import CSV_COLUMNS, CSV_NAME, EXCITATION_CSV_COLUMNS, EXCITATION_CSV_NAME
from ase_mlham.model.io import save_model
from ase_mlham.model.testing import random_tiny_model
from ase_mlham.spectrum import (MOLAR_ABSORPTIVITY_PER_OSCILLATOR_STRENGTH, Sticks, broaden, read_sticks,
                                sticks_from_structures)

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def tiny_model_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("model") / "tiny.pt"
    save_model(random_tiny_model(seed=3), path)  # a seed whose water and formaldehyde S1 are positive
    return path


def write_md_folder(folder: Path, steps: int = 3) -> None:
    """A synthetic ``mlham md`` output: two states per step, S1 at 4 + 0.1 step eV."""
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / EXCITATION_CSV_NAME, "w", newline="") as handle:
        table = csv.writer(handle)
        table.writerow(EXCITATION_CSV_COLUMNS)
        for step in range(steps):
            table.writerow([step, 0.5 * step, 1, 4.0 + 0.1 * step, 0.2])
            table.writerow([step, 0.5 * step, 2, 6.0, 0.6])
    with open(folder / CSV_NAME, "w", newline="") as handle:
        table = csv.writer(handle)
        table.writerow(CSV_COLUMNS)
        for step in range(steps):
            table.writerow([step, 0.5 * step] + [0.0] * 7 + [4.0 + 0.1 * step, 0.2] + [0.0] * 4)


def test_broadening_is_normalised_and_has_the_width():
    sticks = Sticks(np.array([0, 1]), np.array([5.0, 5.0]), np.array([0.3, 0.5]), n_frames=2)
    grid = np.linspace(2.0, 8.0, 6001)
    spectrum = broaden(sticks, fwhm=0.4, energies=grid)
    area = np.trapezoid(spectrum.molar_absorptivity, grid)
    assert area == pytest.approx(MOLAR_ABSORPTIVITY_PER_OSCILLATOR_STRENGTH * 0.8 / 2, rel=1e-6)
    peak = spectrum.molar_absorptivity.max()
    assert grid[np.argmax(spectrum.molar_absorptivity)] == pytest.approx(5.0)
    half = np.interp([4.8, 5.2], grid, spectrum.molar_absorptivity)
    np.testing.assert_allclose(half, peak / 2, rtol=1e-4)
    # f = 1 broadened by 0.3 eV gives a band of about 9e4 L/(mol cm), the size of a strong pi-pi* band
    one = broaden(Sticks(np.zeros(1), np.array([5.0]), np.array([1.0]), 1), 0.3, np.array([5.0]))
    assert one.molar_absorptivity[0] == pytest.approx(9.0e4, rel=0.05)


@pytest.mark.parametrize("fwhm", [0.0, -1.0, math.nan])
def test_bad_width(fwhm):
    with pytest.raises(ValueError, match="must be a positive number of eV"):
        broaden(Sticks(np.zeros(1), np.ones(1), np.ones(1), 1), fwhm)


def test_sticks_from_an_md_folder_and_its_csv_files(tmp_path):
    write_md_folder(tmp_path)
    every = read_sticks(tmp_path)
    assert every.n_frames == 3 and len(every.energies) == 6
    np.testing.assert_allclose(np.sort(every.energies), [4.0, 4.1, 4.2, 6.0, 6.0, 6.0])
    s1_only = read_sticks(tmp_path / CSV_NAME)
    assert s1_only.n_frames == 3 and "S1 only" in s1_only.source
    np.testing.assert_allclose(s1_only.energies, [4.0, 4.1, 4.2])
    (tmp_path / EXCITATION_CSV_NAME).unlink()
    assert len(read_sticks(tmp_path).energies) == 3  # the folder falls back to observables.csv


def test_sticks_from_structures_stored_or_recomputed(tiny_model_file, tmp_path):
    frames = [molecule("H2CO"), molecule("H2CO")]
    frames[1].rattle(0.02, seed=1)
    path = tmp_path / "frames.extxyz"
    write(path, frames)
    with pytest.raises(ValueError, match="stores no excitation_energies.*--model"):
        read_sticks(path)
    with pytest.raises(ValueError, match="must compute excitations .n_excitations >= 1. for a spectrum"):
        sticks_from_structures(path, calculator=MLHamCalculator(tiny_model_file, n_excitations=0))
    recomputed = sticks_from_structures(path, calculator=MLHamCalculator(tiny_model_file, n_excitations=3))
    assert recomputed.n_frames == 2 and len(recomputed.energies) == 6
    np.testing.assert_array_equal(recomputed.frame, [0, 0, 0, 1, 1, 1])
    for frame, k in zip(frames, (0, 1)):
        frame.info["excitation_energies"] = recomputed.energies[3 * k:3 * k + 3]
        frame.info["oscillator_strengths"] = recomputed.strengths[3 * k:3 * k + 3]
    write(path, frames)
    stored = read_sticks(path)
    np.testing.assert_allclose(stored.energies, recomputed.energies, atol=1e-9)
    np.testing.assert_allclose(stored.strengths, recomputed.strengths, atol=1e-9)


def test_mlham_spectrum_writes_png_and_csv(tmp_path, capsys):
    write_md_folder(tmp_path / "md")
    out, table = tmp_path / "spectrum.png", tmp_path / "spectrum.csv"
    status = main(["spectrum", str(tmp_path / "md"), "--out", str(out), "--width", "0.25", "--csv", str(table),
                   "--range", "3", "7"])
    assert status == 0
    printed = capsys.readouterr().out
    assert "6 excitations of 3 frame(s)" in printed
    assert float(re.search(r"at ([0-9.]+) eV", printed).group(1)) == pytest.approx(6.0, abs=0.01)
    assert out.read_bytes()[:8] == PNG
    data = np.loadtxt(table, delimiter=",", skiprows=1)
    assert data.shape == (1000, 2) and data[0, 0] == 3.0 and data[-1, 0] == 7.0
    assert table.read_text().startswith("energy_eV,molar_absorptivity_L_per_mol_cm")


def test_mlham_spectrum_recomputes_a_trajectory_with_a_model(tiny_model_file, tmp_path, capsys):
    path = tmp_path / "water.extxyz"
    write(path, [molecule("H2O")] * 2)
    out = tmp_path / "water.png"
    assert main(["spectrum", str(path), "--out", str(out), "--model", str(tiny_model_file),
                 "--excitations", "2"]) == 0
    assert "4 excitations of 2 frame(s)" in capsys.readouterr().out and out.read_bytes()[:8] == PNG


@pytest.mark.parametrize("arguments, message", [
    (["missing-folder"], "does not exist"),
    (["md", "--width", "0"], "--width must be positive"),
    (["md", "--range", "5", "4"], "--range needs EMIN < EMAX"),
    (["empty"], "holds neither excitations.csv nor observables.csv"),
    (["md/nothing.csv"], "is not an observables file"),
])
def test_mlham_spectrum_errors(tmp_path, monkeypatch, capsys, arguments, message):
    monkeypatch.chdir(tmp_path)
    write_md_folder(tmp_path / "md")
    (tmp_path / "empty").mkdir()
    (tmp_path / "md" / "nothing.csv").write_text("a,b\n1,2\n")
    assert main(["spectrum", *arguments, "--out", "x.png"]) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "x.png").exists()


def test_non_positive_excitations_absorb_nothing():
    sticks = Sticks(np.array([0, 0]), np.array([-1.0, 4.0]), np.array([-0.5, 0.5]), 1)
    spectrum = broaden(sticks, 0.3)
    assert spectrum.energies.min() > 3.0 and spectrum.molar_absorptivity.min() >= 0
    with pytest.raises(ValueError, match="no positive excitation energies"):
        broaden(Sticks(np.zeros(1), -np.ones(1), np.ones(1), 1), 0.3)


def test_observables_without_excitations_are_refused(tmp_path):
    path = tmp_path / CSV_NAME
    path.write_text(",".join(CSV_COLUMNS) + "\n" + ",".join(["0"] * 9 + ["nan"] * 6) + "\n")
    with pytest.raises(ValueError, match="holds no excitations"):
        read_sticks(path)
