"""Configuration sampling by Langevin molecular dynamics with any ASE calculator."""

from __future__ import annotations

from typing import Callable

import numpy as np
from ase import Atoms, units
from ase.calculators.calculator import Calculator

#: Names accepted by :func:`make_sampling_calculator` (``mlham generate --sampler``).
SAMPLERS = ("gfn2-xtb", "gfn1-xtb", "emt")


def make_sampling_calculator(name: str = "gfn2-xtb") -> Calculator:
    """An ASE calculator to drive the sampling MD.

    ``gfn2-xtb`` and ``gfn1-xtb`` use tblite; ``emt`` is ASE's toy potential
    (no dependency, for tests only: its geometries are not chemical).
    """
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
    thermalize_momenta(system, temperature_K=temperature, rng=rng)
    Stationary(system)
    ZeroRotation(system)
    dynamics = Langevin(system, timestep * units.fs, temperature_K=temperature,
                        friction=friction / units.fs, fixcm=False, rng=rng)
    for _ in range(n_frames - 1):
        dynamics.run(stride)
        frame = Atoms(numbers=system.numbers, positions=system.get_positions())
        frames.append(frame)
        if progress:
            progress(len(frames))
    return frames
