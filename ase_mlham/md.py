"""Molecular dynamics with gap monitoring: the job behind ``mlham md``.

:func:`run_md` runs Langevin (or NVE velocity-Verlet) dynamics of one molecule
with an :class:`~ase_mlham.calculator.MLHamCalculator` and writes these files to
an output folder:

``trajectory.extxyz``
    every ``interval``-th frame with energy, forces and atomic energies (read
    back by ``ase.io.read``), momenta, and the orbital quantities in
    ``atoms.info`` (``step``, ``time_fs``, ``homo``, ``lumo``, ``homo_lumo_gap``,
    ``fermi_level``, eV; with excitations also ``s1_eV``, ``s1_oscillator_strength``
    and the arrays ``excitation_energies`` (eV) and ``oscillator_strengths``),
    which ASE's writers would otherwise drop;
``observables.csv``
    one row per step: time, potential/kinetic/total energy, temperature, HOMO,
    LUMO, gap, lowest excitation energy S1 and its oscillator strength (NaN when
    the calculator has ``n_excitations=0``), and the uncertainties of the energy,
    the largest atomic force, the gap and S1 (NaN where the model has none)
    (see :data:`CSV_COLUMNS`); a line on the terminal when the model's uncertainty
    crosses one of the calculator's thresholds (``uncertainty_threshold``) and when
    it falls back below;
``excitations.csv``
    only when the calculator computes excitations: one row per step and state,
    :data:`EXCITATION_CSV_COLUMNS` (the input of ``mlham spectrum``);
``observables.png``
    the gap, HOMO and LUMO (top), S1 (middle, when computed) and the energies
    (bottom) along the trajectory.
"""

from __future__ import annotations

import contextlib
import csv
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

import numpy as np
from ase import Atoms, units

from ase_mlham.options import setting

#: Columns of ``observables.csv``, with units.
CSV_COLUMNS = ("step", "time_fs", "potential_energy_eV", "kinetic_energy_eV", "total_energy_eV",
               "temperature_K", "homo_eV", "lumo_eV", "gap_eV", "s1_eV", "s1_oscillator_strength",
               "energy_uncertainty_eV", "max_forces_uncertainty_eV_per_A", "gap_uncertainty_eV",
               "s1_uncertainty_eV")

#: Columns of ``excitations.csv``: one row per step and excited state (state 1 = S1).
EXCITATION_CSV_COLUMNS = ("step", "time_fs", "state", "energy_eV", "oscillator_strength")

TRAJECTORY_NAME = "trajectory.extxyz"
CSV_NAME = "observables.csv"
EXCITATION_CSV_NAME = "excitations.csv"
PLOT_NAME = "observables.png"


@dataclass(frozen=True)
class MDSettings:
    """Parameters of :func:`run_md`; each is an option of ``mlham md`` (:mod:`ase_mlham.options`)."""

    steps: int = setting(1000, "number of MD steps (the starting geometry is step 0 and is logged too)")
    temperature: float = setting(
        300.0, "K: initial Maxwell-Boltzmann velocities and the Langevin target (0: start at rest)")
    timestep: float = setting(0.5, "MD time step, fs")
    friction: float = setting(0.01, "Langevin friction, 1/fs (ignored with --nve)")
    nve: bool = setting(False, "constant energy (velocity Verlet) instead of Langevin")
    seed: int = setting(0, "random seed of the velocities and thermostat (and of SMILES embedding)")
    interval: int = setting(1, "write every INTERVAL-th step to the trajectory (the CSV gets every step)")

    def __post_init__(self) -> None:
        for name in ("steps", "interval"):
            value = getattr(self, name)
            if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        if not np.isfinite(self.temperature) or self.temperature < 0:
            raise ValueError(f"temperature must be >= 0 K, got {self.temperature!r}")
        for name in ("timestep", "friction"):
            value = getattr(self, name)
            if not np.isfinite(value) or value <= 0:
                raise ValueError(f"{name} must be positive, got {value!r}")


@dataclass
class MDResult:
    """What :func:`run_md` wrote and the logged observables (one row per step, :data:`CSV_COLUMNS`)."""

    trajectory: Path
    csv: Path
    plot: Path | None
    observables: np.ndarray  # (steps + 1, len(CSV_COLUMNS))
    excitations_csv: Path | None = None  # written when the calculator computes excitations

    def column(self, name: str) -> np.ndarray:
        """One column of :attr:`observables` by its :data:`CSV_COLUMNS` name."""
        return self.observables[:, CSV_COLUMNS.index(name)]

    @property
    def final_atoms(self) -> Atoms:
        """The last trajectory frame."""
        from ase.io import read

        return read(self.trajectory, index=-1)


def energy_drift(time_fs: np.ndarray, total_energy: np.ndarray, n_atoms: int) -> float:
    """Slope of a linear fit of the total energy against time, meV/atom/ps."""
    time_fs, total_energy = np.asarray(time_fs, dtype=float), np.asarray(total_energy, dtype=float)
    if len(time_fs) < 2:
        raise ValueError("an energy drift needs at least two time points")
    slope_ev_per_fs = np.polyfit(time_fs, total_energy, 1)[0]
    return float(slope_ev_per_fs * 1000.0 * 1000.0 / n_atoms)


def snapshot(atoms: Atoms, **info) -> Atoms:
    """A copy of ``atoms`` carrying its calculator's standard results and orbital quantities.

    The copy has a ``SinglePointCalculator`` with ``energy``, ``free_energy``,
    ``forces`` and (models without an energy baseline) ``energies`` (what ``ase.io`` writers keep) and ``info`` with
    HOMO, LUMO, gap and Fermi level (eV), with excitations also ``s1_eV``,
    ``s1_oscillator_strength``, ``excitation_energies`` (eV) and
    ``oscillator_strengths`` (arrays), plus the ``info`` given here.
    ``atoms.calc`` must be an :class:`~ase_mlham.calculator.MLHamCalculator`; it
    computes the geometry only if it has not already.
    """
    from ase.calculators.singlepoint import SinglePointCalculator

    from ase_mlham.calculator import MLHamCalculator

    calc = atoms.calc
    if not isinstance(calc, MLHamCalculator):
        raise TypeError(f"atoms.calc must be an MLHamCalculator, got {type(calc).__name__}")
    names = ("energy", "free_energy", "forces") + (("energies",) if calc.model.settings.energy_baseline is None else ())
    results = {name: calc.get_property(name, atoms) for name in names}
    frame = atoms.copy()
    frame.info.update(calc.orbital_summary())
    if calc.n_excitations:
        frame.info.update(calc.excitation_summary())
        energies, strengths = calc.get_excitations()
        frame.info.update(excitation_energies=energies, oscillator_strengths=strengths)
    frame.info.update(info)
    frame.calc = SinglePointCalculator(frame, **results)
    return frame


def _make_dynamics(atoms: Atoms, settings: MDSettings, rng: np.random.Generator):
    from ase.md.langevin import Langevin
    from ase.md.verlet import VelocityVerlet

    if settings.nve:
        return VelocityVerlet(atoms, timestep=settings.timestep * units.fs)
    if not atoms.constraints:
        from ase.constraints import FixCom

        atoms.set_constraint(FixCom())  # ASE's recommended replacement of Langevin's fixcm=True
    return Langevin(atoms, settings.timestep * units.fs, temperature_K=settings.temperature,
                    friction=settings.friction / units.fs, fixcm=False, rng=rng)


def run_md(atoms: Atoms, out_dir: str | Path, settings: MDSettings = MDSettings(), calculator=None,
           model=None, show_progress: bool = True, stream: TextIO | None = None, plot: bool = True) -> MDResult:
    """Run MD of ``atoms`` and write trajectory, CSV and plot into ``out_dir``.

    Parameters
    ----------
    atoms
        Starting geometry (Angstrom); not modified. Existing momenta are replaced
        by Maxwell-Boltzmann ones at ``settings.temperature`` (zero total momentum
        and angular momentum) unless the temperature is 0.
    out_dir
        Folder for the output files (created; existing files of the same names are
        overwritten, and a stale ``excitations.csv`` is removed when this run has none).
    settings
        :class:`MDSettings`.
    calculator
        An :class:`~ase_mlham.calculator.MLHamCalculator`; built from ``model`` when omitted.
    model
        Model file or model for a new calculator; ``None`` is the shipped default model.
    show_progress, stream
        Progress bar on ``stream`` (default stderr).
    plot
        Write the PNG (needs matplotlib).

    Returns
    -------
    :class:`MDResult`.
    """
    from ase.io import write
    from ase.md.velocitydistribution import Stationary, ZeroRotation, thermalize_momenta

    from ase_mlham.calculator import MLHamCalculator, UncertaintyWarning
    from ase_mlham.progress import ProgressBar

    if not isinstance(settings, MDSettings):
        raise TypeError(f"settings must be an MDSettings, got {type(settings).__name__}")
    if calculator is None:
        calculator = MLHamCalculator(model)
    elif model is not None:
        raise ValueError("give either calculator or model, not both")
    system = atoms.copy()
    system.calc = calculator
    with warnings.catch_warnings():  # an uncertain start is reported with step 0 below
        warnings.simplefilter("ignore", UncertaintyWarning)
        system.get_potential_energy()  # validates the molecule before anything is written
    rng = np.random.default_rng(settings.seed)
    if settings.temperature > 0:
        thermalize_momenta(system, temperature_K=settings.temperature, rng=rng)
        Stationary(system)
        ZeroRotation(system)
    else:
        system.set_momenta(np.zeros((len(system), 3)))

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    trajectory_path, csv_path = out_dir / TRAJECTORY_NAME, out_dir / CSV_NAME
    with_excitations = calculator.n_excitations > 0
    excitations_path = out_dir / EXCITATION_CSV_NAME if with_excitations else None
    if not with_excitations and (out_dir / EXCITATION_CSV_NAME).exists():
        (out_dir / EXCITATION_CSV_NAME).unlink()  # a stale file of an earlier run would be read as this one's
    dynamics = _make_dynamics(system, settings, rng)
    rows: list[list[float]] = []
    progress = ProgressBar(settings.steps, label="md", stream=stream, enabled=show_progress)

    with contextlib.ExitStack() as files:
        trajectory_file = files.enter_context(open(trajectory_path, "w"))
        csv_file = files.enter_context(open(csv_path, "w", newline=""))
        table = csv.writer(csv_file)
        table.writerow(CSV_COLUMNS)
        excitation_table = None
        if excitations_path is not None:
            excitation_file = files.enter_context(open(excitations_path, "w", newline=""))
            excitation_table = csv.writer(excitation_file)
            excitation_table.writerow(EXCITATION_CSV_COLUMNS)

        def observe() -> None:
            step = dynamics.nsteps
            time_fs = step * settings.timestep
            potential = system.get_potential_energy()
            kinetic = system.get_kinetic_energy()
            homo, lumo = calculator.get_homo_lumo()
            s1 = calculator.excitation_summary()
            row = [step, time_fs, potential, kinetic, potential + kinetic, system.get_temperature(),
                   homo, lumo, lumo - homo, s1["s1_eV"], s1["s1_oscillator_strength"], *uncertainties()]
            rows.append(row)
            table.writerow([step] + [f"{value:.10g}" for value in row[1:]])
            if excitation_table is not None:
                for state, (energy, strength) in enumerate(zip(*calculator.get_excitations()), start=1):
                    excitation_table.writerow([step, f"{time_fs:.10g}", state, f"{energy:.10g}", f"{strength:.10g}"])
            if step % settings.interval == 0 or step == settings.steps:
                write(trajectory_file, snapshot(system, step=step, time_fs=time_fs), format="extxyz")
                for handle in (trajectory_file, csv_file):
                    handle.flush()
                if excitation_table is not None:
                    excitation_file.flush()
            crossed = calculator.uncertainty_crossings()
            if bool(crossed) != unsure[0]:  # a line on the terminal when the model becomes unsure, and when not
                unsure[0] = bool(crossed)
                progress.write(f"step {step} ({time_fs:g} fs): " + (
                    f"UNSURE, outside the training chemistry: {'; '.join(crossed)} (eV, eV/A)" if crossed
                    else "uncertainties back below their thresholds"))
            if step > 0:
                s1_text = f"  S1 {row[9]:.3f} eV" if with_excitations else ""
                progress.update(1, f"T {row[5]:6.1f} K  gap {row[8]:.3f} eV{s1_text}  E_tot {row[4]:.4f} eV")

        def uncertainties() -> list[float]:
            """Energy, largest force, gap and S1 uncertainty of the current step; NaN where the model has none."""
            results = calculator.results
            s1 = None
            if with_excitations and calculator.model.committee is not None:  # asked for: sTDA per member
                s1 = calculator.get_property("excitation_energy_uncertainties", system)
            values = [results.get("energy_uncertainty"), results.get("forces_uncertainty"),
                      results.get("gap_uncertainty"), None if s1 is None or not len(s1) else s1[0]]
            return [float("nan") if value is None else float(np.max(value)) for value in values]

        unsure = [False]
        # the calculator's UncertaintyWarning would repeat at every step: observe() reports crossings instead
        files.enter_context(warnings.catch_warnings())
        warnings.simplefilter("ignore", UncertaintyWarning)
        dynamics.attach(observe, interval=1)
        try:
            dynamics.run(settings.steps)
        except ValueError as err:  # the calculator refused a geometry (e.g. atoms collapsed)
            raise ValueError(f"MD stopped at step {dynamics.nsteps + 1} of {settings.steps}: {err} "
                             f"({trajectory_path} and {csv_path} hold the steps before)") from err


    observables = np.array(rows, dtype=float)
    plot_path = None
    if plot:
        plot_path = out_dir / PLOT_NAME
        plot_observables(observables, plot_path, title=f"{atoms.get_chemical_formula()}: "
                                                     f"{'NVE' if settings.nve else 'Langevin'} "
                                                     f"{settings.temperature:g} K, dt {settings.timestep:g} fs")
    return MDResult(trajectory_path, csv_path, plot_path, observables, excitations_path)


#: Columns of files written before excitations (9) and before uncertainties (11) existed; read with NaN there.
_OLDER_CSV_COLUMNS = (CSV_COLUMNS[:9], CSV_COLUMNS[:11])


def read_observables(path: str | Path) -> np.ndarray:
    """The table of an ``observables.csv``, ``(n_steps, len(CSV_COLUMNS))``.

    Files of earlier versions (without the S1 or the uncertainty columns) are read with NaN there.
    """
    with open(path) as handle:
        header = tuple(handle.readline().strip().split(","))
    if header != CSV_COLUMNS and header not in _OLDER_CSV_COLUMNS:
        raise ValueError(f"{path} is not an observables file: columns {list(header)}")
    table = np.loadtxt(path, delimiter=",", skiprows=1, ndmin=2)
    if header != CSV_COLUMNS:
        table = np.hstack([table, np.full((len(table), len(CSV_COLUMNS) - len(header)), np.nan)])
    return table


def read_excitations(path: str | Path) -> np.ndarray:
    """The table of an ``excitations.csv``, ``(n_rows, len(EXCITATION_CSV_COLUMNS))``: one row per step and state."""
    with open(path) as handle:
        header = tuple(handle.readline().strip().split(","))
    if header != EXCITATION_CSV_COLUMNS:
        raise ValueError(f"{path} is not an excitations file: columns {list(header)}")
    return np.loadtxt(path, delimiter=",", skiprows=1, ndmin=2).reshape(-1, len(EXCITATION_CSV_COLUMNS))


def plot_observables(observables: np.ndarray, path: str | Path, title: str = "") -> None:
    """Panels against time: HOMO-LUMO gap (and HOMO, LUMO on a twin axis), S1 and its
    oscillator strength (when computed), then energies."""
    from matplotlib.figure import Figure  # no pyplot: no global backend state

    column = {name: observables[:, k] for k, name in enumerate(CSV_COLUMNS)}
    time = column["time_fs"]
    with_s1 = bool(np.isfinite(column["s1_eV"]).any())
    figure = Figure(figsize=(7, 8.5 if with_s1 else 6), layout="constrained")
    if with_s1:
        top, middle, bottom = figure.subplots(3, 1, sharex=True)
        middle.plot(time, column["s1_eV"], color="tab:purple", label="S1 (sTDA)")
        if np.isfinite(column["s1_uncertainty_eV"]).any():
            middle.fill_between(time, column["s1_eV"] - column["s1_uncertainty_eV"],
                                column["s1_eV"] + column["s1_uncertainty_eV"], color="tab:purple", alpha=0.2, lw=0)
        middle.set_ylabel("S1 (eV)")
        strength = middle.twinx()
        strength.plot(time, column["s1_oscillator_strength"], color="tab:green", alpha=0.6, lw=0.8,
                      label="oscillator strength")
        strength.set_ylabel("f(S1)")
        lines = middle.get_lines() + strength.get_lines()
        middle.legend(lines, [line.get_label() for line in lines], loc="best", fontsize="small")
    else:
        top, bottom = figure.subplots(2, 1, sharex=True)
    top.plot(time, column["gap_eV"], color="k", label="HOMO-LUMO gap")
    if np.isfinite(column["gap_uncertainty_eV"]).any():
        top.fill_between(time, column["gap_eV"] - column["gap_uncertainty_eV"],
                         column["gap_eV"] + column["gap_uncertainty_eV"], color="k", alpha=0.2, lw=0,
                         label="gap +- sigma")
    top.set_ylabel("gap (eV)")
    twin = top.twinx()
    twin.plot(time, column["homo_eV"], color="tab:blue", alpha=0.6, lw=0.8, label="HOMO")
    twin.plot(time, column["lumo_eV"], color="tab:red", alpha=0.6, lw=0.8, label="LUMO")
    twin.set_ylabel("orbital energy (eV)")
    lines = top.get_lines() + twin.get_lines()
    top.legend(lines, [line.get_label() for line in lines], loc="best", fontsize="small")
    reference = column["total_energy_eV"][0]
    for name, label in (("potential_energy_eV", "potential"), ("kinetic_energy_eV", "kinetic"),
                        ("total_energy_eV", "total")):
        values = column[name] - (reference if name != "kinetic_energy_eV" else 0.0)
        bottom.plot(time, values, label=label + (" - E_tot(0)" if name != "kinetic_energy_eV" else ""))
    bottom.set_xlabel("time (fs)")
    bottom.set_ylabel("energy (eV)")
    bottom.legend(loc="best", fontsize="small")
    if title:
        top.set_title(title)
    figure.savefig(path, dpi=120)
