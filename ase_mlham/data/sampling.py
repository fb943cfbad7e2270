"""Configuration sampling by Langevin molecular dynamics with any ASE calculator.

Sampling with an ML-Hamiltonian model itself (``sampler="mlham"``) is the
active-learning step: the model's own MD visits the regions where its energy
surface is wrong (too soft, or with holes), and their references teach the
next model those regions.
"""

from __future__ import annotations

import warnings
from typing import Callable

import numpy as np
from ase import Atoms, units
from ase.calculators.calculator import Calculator

#: Names accepted by :func:`make_sampling_calculator` (``mlham generate --sampler``).
SAMPLERS = ("gfn2-xtb", "gfn1-xtb", "mlham", "emt")

#: Restarts from the starting geometry allowed per trajectory when the sampler
#: fails (atoms overlapping on an ML surface), before sampling gives up.
MAX_RESTARTS = 10


def make_sampling_calculator(name: str = "gfn2-xtb", model: str | None = None) -> Calculator:
    """An ASE calculator to drive the sampling MD.

    ``gfn2-xtb`` and ``gfn1-xtb`` use tblite; ``mlham`` is
    :class:`~ase_mlham.calculator.MLHamCalculator` with the model file ``model``
    (``None``: the shipped default model), without excitations; ``emt`` is ASE's
    toy potential (no dependency, for tests only: its geometries are not chemical).
    """
    if model is not None and name != "mlham":
        raise ValueError(f"a sampling model file is only used with the 'mlham' sampler, not {name!r}")
    if name == "mlham":
        from ase_mlham.calculator import MLHamCalculator

        return MLHamCalculator(model, n_excitations=0)
    if name in ("gfn2-xtb", "gfn1-xtb"):
        try:
            from tblite.ase import TBLite
        except ImportError as err:
            raise ImportError("GFN-xTB sampling needs tblite: pip install tblite") from err
        method = {"gfn2-xtb": "GFN2-xTB", "gfn1-xtb": "GFN1-xTB"}[name]
        return TBLite(method=method, verbosity=0)
    if name == "emt":
        from ase.calculators.emt import EMT

        return EMT()
    raise ValueError(f"unknown sampler {name!r}; choose one of {', '.join(SAMPLERS)}")


#: Force threshold of :func:`relax_structure`, eV/Angstrom, and its step limit.
RELAX_FMAX = 0.01
RELAX_STEPS = 2000


def relax_structure(atoms: Atoms, calculator: Calculator, fmax: float = RELAX_FMAX,
                    steps: int = RELAX_STEPS) -> Atoms:
    """The local minimum of ``atoms`` on ``calculator``'s surface (BFGS until the largest force is below
    ``fmax`` eV/Angstrom): e.g. the GFN2-xTB minimum of an RDKit/MMFF structure. ``atoms`` is not modified.

    Raises ``RuntimeError`` when BFGS has not converged within ``steps`` steps: a frame 0 that is not the
    minimum it is recorded as would be a silent mislabel.
    """
    from ase.optimize import BFGS

    system = Atoms(numbers=atoms.numbers, positions=atoms.get_positions())
    system.calc = calculator
    if not BFGS(system, logfile=None).run(fmax=fmax, steps=steps):
        largest = float(np.linalg.norm(system.get_forces(), axis=1).max())
        raise RuntimeError(f"{atoms.get_chemical_formula()}: the relaxation did not converge in {steps} steps "
                           f"(largest force {largest:.3f} eV/A > {fmax})")
    return Atoms(numbers=system.numbers, positions=system.get_positions())


def sample_configurations(
    atoms: Atoms,
    calculator: Calculator,
    n_frames: int,
    temperature: float = 500.0,
    stride: int = 60,
    timestep: float = 0.5,
    friction: float = 0.01,
    seed: int | np.random.SeedSequence = 0,
    progress: Callable[[int], None] | None = None,
) -> list[Atoms]:
    """Frames of a Langevin trajectory: frame 0 is ``atoms`` itself.

    Parameters
    ----------
    atoms:
        Starting geometry; not modified.
    calculator:
        Any ASE calculator providing forces (GFN2-xTB by default in the CLI).
    n_frames:
        Number of frames returned, including the starting geometry.
    temperature:
        Langevin thermostat temperature, K; initial velocities are
        Maxwell-Boltzmann at this temperature.
    stride:
        MD steps between stored frames.
    timestep:
        fs.
    friction:
        Langevin friction, 1/fs.
    seed:
        Seeds the initial velocities and the thermostat noise, so the same
        arguments give the same frames.
    progress:
        Called with the number of frames done after each frame.

    Returns
    -------
    list of ``n_frames`` Atoms with positions in Angstrom, no calculator.

    When the calculator raises ``ValueError`` during a stride (the ML
    calculators do when atoms overlap), the stride is discarded and the
    trajectory restarts from ``atoms`` with new velocities, at most
    :data:`MAX_RESTARTS` times; then ``RuntimeError``.
    """
    from ase.md.langevin import Langevin
    from ase.md.velocitydistribution import Stationary, ZeroRotation, thermalize_momenta

    if n_frames < 1:
        raise ValueError(f"n_frames must be at least 1, got {n_frames}")
    if stride < 1:
        raise ValueError(f"stride must be at least 1, got {stride}")
    if temperature <= 0:
        raise ValueError(f"temperature must be positive (K), got {temperature}")
    rng = np.random.default_rng(seed)
    system = atoms.copy()
    system.calc = calculator
    frames = [atoms.copy()]
    if progress:
        progress(1)
    if n_frames == 1:
        return frames

    def start():
        system.set_positions(atoms.positions)
        thermalize_momenta(system, temperature_K=temperature, rng=rng)
        Stationary(system)
        ZeroRotation(system)
        return Langevin(system, timestep * units.fs, temperature_K=temperature,
                        friction=friction / units.fs, fixcm=False, rng=rng)

    from ase_mlham.calculator import UncertaintyWarning

    dynamics, restarts = start(), 0
    while len(frames) < n_frames:
        try:
            with warnings.catch_warnings():  # a model sampler is meant to go where it is unsure
                warnings.simplefilter("ignore", UncertaintyWarning)
                dynamics.run(stride)
        except ValueError as err:
            restarts += 1
            if restarts > MAX_RESTARTS:
                raise RuntimeError(f"sampling failed {restarts} times, last: {err}") from err
            warnings.warn(f"sampling restarts from the starting geometry (restart {restarts}) after: {err}",
                          RuntimeWarning, stacklevel=2)
            dynamics = start()
            continue
        frame = Atoms(numbers=system.numbers, positions=system.get_positions())
        frames.append(frame)
        if progress:
            progress(len(frames))
    return frames


def uncertainty_score(atoms: Atoms, calculator: Calculator) -> float:
    """How unsure an :class:`~ase_mlham.calculator.MLHamCalculator` is about ``atoms``: the largest ratio of
    an uncertainty (energy, largest atomic force, gap) to the calculator's threshold for it."""
    thresholds = getattr(calculator, "uncertainty_threshold", None) or {}
    names = {"energy": "energy_uncertainty", "forces": "forces_uncertainty", "gap": "gap_uncertainty"}
    usable = {quantity: value for quantity, value in thresholds.items() if quantity in names}
    if not usable:
        raise ValueError("selecting frames by uncertainty needs a model with uncertainties and thresholds "
                         "(an energy baseline or a committee, format version 5)")
    system = atoms.copy()
    system.calc = calculator
    return max(float(np.max(calculator.get_property(names[quantity], system))) / threshold
               for quantity, threshold in usable.items())


def select_by_uncertainty(frames: list[Atoms], calculator: Calculator, n_frames: int) -> list[Atoms]:
    """Frame 0 and the ``n_frames - 1`` other frames with the highest :func:`uncertainty_score`, in
    trajectory order: active learning puts the references where the model is least sure."""
    from ase_mlham.calculator import UncertaintyWarning

    if n_frames > len(frames):
        raise ValueError(f"cannot select {n_frames} of {len(frames)} frames")
    with warnings.catch_warnings():  # being unsure is the point here
        warnings.simplefilter("ignore", UncertaintyWarning)
        scores = [uncertainty_score(frame, calculator) for frame in frames[1:]]
    chosen = sorted(np.argsort(scores)[::-1][:n_frames - 1] + 1)
    return [frames[0]] + [frames[int(k)] for k in chosen]
