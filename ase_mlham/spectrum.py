r"""Absorption spectra from excitation sticks along a trajectory: the job behind ``mlham spectrum``.

Each frame contributes its sticks (excitation energies :math:`\omega_{kn}` in eV,
oscillator strengths :math:`f_{kn}`); the spectrum is their Gaussian-broadened
average over the ``n_frames`` frames, expressed as the molar absorption
coefficient

.. math::

    \varepsilon(E) = C \, \frac{1}{n_\mathrm{frames}} \sum_{k,n} f_{kn}\,
    \frac{1}{\sigma\sqrt{2\pi}} \exp\!\left(-\frac{(E - \omega_{kn})^2}{2\sigma^2}\right),
    \qquad \sigma = \frac{\mathrm{FWHM}}{2\sqrt{2\ln 2}},

in L mol\ :sup:`-1` cm\ :sup:`-1`, with :math:`C = 1 / (4.319 \times 10^{-9} \cdot 8065.54)`
= 28 700 L mol\ :sup:`-1` cm\ :sup:`-1` eV from :math:`f = 4.319 \times 10^{-9}
\int \varepsilon\, d\tilde\nu` (:math:`\tilde\nu` in cm\ :sup:`-1`, 8065.54 cm\ :sup:`-1` per eV).
Sampling a thermal trajectory this way gives the vibronic (inhomogeneous) band
shape; the Gaussian width stands in for what the frames do not sample.

Sources of sticks (:func:`read_sticks`): the ``excitations.csv`` of ``mlham md``
(every step, every state), its ``observables.csv`` (S1 only), or a structure
file (extxyz, traj, ...): its frames' stored ``excitation_energies`` /
``oscillator_strengths`` info, or a recomputation with a model.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

#: L mol^-1 cm^-1 eV per unit oscillator strength: 1 / (4.319e-9 L mol^-1 cm^-2 * 8065.54 cm^-1/eV).
MOLAR_ABSORPTIVITY_PER_OSCILLATOR_STRENGTH = 1.0 / (4.319e-9 * 8065.544)


@dataclass
class Sticks:
    """Excitations of a set of frames, flattened: ``frame``, ``energies`` (eV) and ``strengths``, ``(n_sticks,)``.

    ``n_frames`` counts every frame read, also those without sticks; ``source``
    says where they came from (for titles and messages).
    """

    frame: np.ndarray
    energies: np.ndarray
    strengths: np.ndarray
    n_frames: int
    source: str = ""


@dataclass
class Spectrum:
    """A broadened spectrum: ``energies`` (eV) grid and ``molar_absorptivity`` (L mol^-1 cm^-1), ``(n_grid,)``."""

    energies: np.ndarray
    molar_absorptivity: np.ndarray
    fwhm: float
    n_frames: int


def _check_fwhm(fwhm: float) -> float:
    if not isinstance(fwhm, (int, float, np.floating)) or not math.isfinite(fwhm) or fwhm <= 0:
        raise ValueError(f"the Gaussian width (FWHM) must be a positive number of eV, got {fwhm!r}")
    return float(fwhm)


def broaden(sticks: Sticks, fwhm: float = 0.3, energies: np.ndarray | None = None, points: int = 1000) -> Spectrum:
    """The frame-averaged Gaussian-broadened spectrum of ``sticks`` (see the module docstring).

    Parameters
    ----------
    sticks
        :class:`Sticks`; at least one frame. Sticks at non-positive energies are left out.
    fwhm
        Full width at half maximum of each Gaussian, eV.
    energies
        Grid, eV; default ``points`` values from 3 FWHM below the lowest stick to
        3 FWHM above the highest.
    """
    fwhm = _check_fwhm(fwhm)
    # a non-positive excitation energy (an unphysical H', e.g. an untrained model) absorbs nothing
    physical = sticks.energies > 0
    if sticks.n_frames < 1 or not physical.any():
        raise ValueError(f"no positive excitation energies to broaden{' in ' + sticks.source if sticks.source else ''}")
    sticks = Sticks(sticks.frame[physical], sticks.energies[physical], sticks.strengths[physical], sticks.n_frames,
                    sticks.source)
    if energies is None:
        energies = np.linspace(sticks.energies.min() - 3 * fwhm, sticks.energies.max() + 3 * fwhm, points)
    energies = np.asarray(energies, dtype=float)
    sigma = fwhm / (2.0 * math.sqrt(2.0 * math.log(2.0)))
    density = np.zeros_like(energies)
    for start in range(0, len(sticks.energies), 4096):  # bounded (grid, block) intermediate
        centre = sticks.energies[start:start + 4096]
        weight = sticks.strengths[start:start + 4096]
        gauss = np.exp(-0.5 * ((energies[:, None] - centre[None, :]) / sigma) ** 2) / (sigma * math.sqrt(2 * math.pi))
        density += gauss @ weight
    absorptivity = MOLAR_ABSORPTIVITY_PER_OSCILLATOR_STRENGTH * density / sticks.n_frames
    return Spectrum(energies, absorptivity, fwhm, sticks.n_frames)


def _sticks_from_table(frame: np.ndarray, energies: np.ndarray, strengths: np.ndarray, source: str) -> Sticks:
    keep = np.isfinite(energies) & np.isfinite(strengths)
    n_frames = len(np.unique(frame))
    return Sticks(frame[keep].astype(int), energies[keep], strengths[keep], n_frames, source)


def sticks_from_csv(path: str | os.PathLike) -> Sticks:
    """Sticks of an ``excitations.csv`` (every state) or an ``observables.csv`` (S1 only) of ``mlham md``."""
    from ase_mlham.md import CSV_COLUMNS, EXCITATION_CSV_COLUMNS, read_excitations, read_observables

    with open(path) as handle:
        header = tuple(handle.readline().strip().split(","))
    if header == EXCITATION_CSV_COLUMNS:
        table = read_excitations(path)
        column = {name: table[:, k] for k, name in enumerate(EXCITATION_CSV_COLUMNS)}
        return _sticks_from_table(column["step"], column["energy_eV"], column["oscillator_strength"], str(path))
    table = read_observables(path)  # raises for any other file
    column = {name: table[:, k] for k, name in enumerate(CSV_COLUMNS)}
    if not np.isfinite(column["s1_eV"]).any():
        raise ValueError(f"{path} holds no excitations (the MD ran with --excitations 0)")
    return _sticks_from_table(column["step"], column["s1_eV"], column["s1_oscillator_strength"], f"{path} (S1 only)")


def sticks_from_structures(path: str | os.PathLike, calculator=None, index: str = ":") -> Sticks:
    """Sticks of the frames of a structure file (anything ``ase.io.read`` reads).

    With ``calculator`` (an :class:`~ase_mlham.calculator.MLHamCalculator` with ``n_excitations >= 1``)
    every frame is recomputed; without, the frames must carry ``excitation_energies`` and
    ``oscillator_strengths`` in their info (as the ``trajectory.extxyz`` of ``mlham md`` does).
    """
    from ase.io import read

    if calculator is not None and getattr(calculator, "n_excitations", 0) < 1:
        raise ValueError(f"the calculator must compute excitations (n_excitations >= 1) for a spectrum, got "
                         f"n_excitations={getattr(calculator, 'n_excitations', None)}")
    frames = read(path, index=index)
    if not isinstance(frames, list):
        frames = [frames]
    if not frames:
        raise ValueError(f"{path} holds no frames")
    frame_index, energies, strengths = [], [], []
    for k, atoms in enumerate(frames):
        if calculator is not None:
            atoms = atoms.copy()
            atoms.calc = calculator
            values, weights = calculator.get_property("excitation_energies", atoms), \
                calculator.get_property("oscillator_strengths", atoms)
        elif "excitation_energies" in atoms.info and "oscillator_strengths" in atoms.info:
            values = np.atleast_1d(np.asarray(atoms.info["excitation_energies"], dtype=float))
            weights = np.atleast_1d(np.asarray(atoms.info["oscillator_strengths"], dtype=float))
        else:
            raise ValueError(f"frame {k} of {path} stores no excitation_energies/oscillator_strengths: "
                             "pass a calculator (mlham spectrum: --model) to compute them")
        frame_index.append(np.full(len(values), k))
        energies.append(values)
        strengths.append(weights)
    return Sticks(np.concatenate(frame_index), np.concatenate(energies), np.concatenate(strengths), len(frames),
                  str(path) + (" (recomputed)" if calculator is not None else ""))


def read_sticks(path: str | os.PathLike, calculator=None) -> Sticks:
    """Sticks from an ``mlham md`` output folder, one of its CSV files, or a structure file.

    A folder: its ``excitations.csv`` when present (or ``trajectory.extxyz`` recomputed when a
    ``calculator`` is given), else the S1 columns of ``observables.csv``. A ``.csv``
    file: :func:`sticks_from_csv`. Anything else: :func:`sticks_from_structures`.
    """
    from ase_mlham.md import CSV_NAME, EXCITATION_CSV_NAME, TRAJECTORY_NAME

    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path} does not exist")
    if path.is_dir():
        if calculator is not None and (path / TRAJECTORY_NAME).is_file():
            return sticks_from_structures(path / TRAJECTORY_NAME, calculator)
        for name in (EXCITATION_CSV_NAME, CSV_NAME):
            if (path / name).is_file():
                return sticks_from_csv(path / name)
        raise FileNotFoundError(f"{path} holds neither {EXCITATION_CSV_NAME} nor {CSV_NAME} of `mlham md`")
    if path.suffix.lower() == ".csv":
        return sticks_from_csv(path)
    return sticks_from_structures(path, calculator)


def write_spectrum_csv(spectrum: Spectrum, path: str | os.PathLike) -> None:
    """Two columns: ``energy_eV`` and ``molar_absorptivity_L_per_mol_cm``."""
    np.savetxt(path, np.column_stack([spectrum.energies, spectrum.molar_absorptivity]), delimiter=",",
               header="energy_eV,molar_absorptivity_L_per_mol_cm", comments="", fmt="%.10g")


def plot_spectrum(spectrum: Spectrum, sticks: Sticks, path: str | os.PathLike, title: str = "") -> None:
    """The broadened spectrum (left axis) over the frame-averaged sticks (right axis), PNG."""
    from matplotlib.figure import Figure  # no pyplot: no global backend state

    figure = Figure(figsize=(7, 4.5), layout="constrained")
    axis = figure.subplots()
    axis.plot(spectrum.energies, spectrum.molar_absorptivity, color="k",
              label=f"Gaussian FWHM {spectrum.fwhm:g} eV, {spectrum.n_frames} frame(s)")
    axis.set_xlabel("excitation energy (eV)")
    axis.set_ylabel(r"$\varepsilon$ (L mol$^{-1}$ cm$^{-1}$)")
    axis.set_ylim(bottom=0)
    sticks_axis = axis.twinx()
    sticks_axis.vlines(sticks.energies, 0, sticks.strengths / sticks.n_frames, color="tab:red", alpha=0.35, lw=0.8)
    sticks_axis.set_ylabel("oscillator strength / frame")
    sticks_axis.set_ylim(bottom=0)
    axis.legend(loc="upper left", fontsize="small")
    axis.set_title(title or sticks.source, fontsize="medium")
    figure.savefig(path, dpi=120)
