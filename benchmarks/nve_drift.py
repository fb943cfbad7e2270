"""Total-energy drift of NVE molecular dynamics with an ML Hamiltonian model.

Velocity-Verlet at 0.25 fs for 2 ps of benzene, Maxwell-Boltzmann velocities at
300 K (zero total and angular momentum); the drift is the slope of a linear fit
of the total energy against time, in meV/atom/ps. Target of the shipped model:
|drift| < 1 meV/atom/ps. Also prints the RMS fluctuation of the total energy
about that fit and the wall time per step.

    python benchmarks/nve_drift.py                        # the shipped model, 2 ps
    python benchmarks/nve_drift.py --model tiny.pt --time 0.25 --out nve/
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time

import numpy as np


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--model", help="model file (default: the model shipped with ase-mlham)")
    parser.add_argument("--molecule", default="C6H6", help="G2 name, structure file or SMILES")
    parser.add_argument("--temperature", type=float, default=300.0, help="initial temperature, K")
    parser.add_argument("--timestep", type=float, default=0.25, help="time step, fs")
    parser.add_argument("--time", type=float, default=2.0, help="simulated time, ps")
    parser.add_argument("--seed", type=int, default=0, help="seed of the initial velocities")
    parser.add_argument("--out", help="keep the trajectory, CSV and plot here (default: a temporary folder)")
    parser.add_argument("--json", help="also write the numbers as JSON here")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    args = parser.parse_args(argv)

    from ase_mlham.calculator import DEFAULT_MODEL_PATH, MLHamCalculator
    from ase_mlham.data.molecules import resolve_structure
    from ase_mlham.md import CSV_COLUMNS, CSV_NAME, MDSettings, energy_drift, read_observables, run_md

    steps = int(round(args.time * 1000.0 / args.timestep))
    settings = MDSettings(steps=steps, temperature=args.temperature, timestep=args.timestep, nve=True,
                          seed=args.seed, interval=max(steps // 200, 1))
    structure = resolve_structure(args.molecule, seed=args.seed)
    calculator = MLHamCalculator(args.model)
    stopped = None
    with tempfile.TemporaryDirectory() as scratch:
        start = time.perf_counter()
        try:
            run_md(structure.atoms, args.out or scratch, settings, calculator=calculator,
                   show_progress=not args.quiet, plot=args.out is not None)
        except ValueError as err:  # e.g. atoms collapsing on an untrained model: report what ran
            stopped = str(err)
        seconds = time.perf_counter() - start
        table = read_observables(f"{args.out or scratch}/{CSV_NAME}")
    time_fs, total = table[:, CSV_COLUMNS.index("time_fs")], table[:, CSV_COLUMNS.index("total_energy_eV")]
    temperature = table[:, CSV_COLUMNS.index("temperature_K")]
    steps = len(table) - 1
    n_atoms = len(structure.atoms)
    drift = energy_drift(time_fs, total, n_atoms)
    fit = np.polyval(np.polyfit(time_fs, total, 1), time_fs)
    numbers = {
        "model": str(args.model or DEFAULT_MODEL_PATH), "molecule": structure.name, "n_atoms": n_atoms,
        "timestep_fs": args.timestep, "steps": steps, "simulated_ps": steps * args.timestep / 1000.0,
        "initial_temperature_K": args.temperature, "mean_temperature_K": float(temperature.mean()),
        "drift_meV_per_atom_per_ps": drift,
        "rms_fluctuation_meV_per_atom": float(np.sqrt(np.mean((total - fit) ** 2)) * 1000.0 / n_atoms),
        "max_deviation_meV_per_atom": float(np.abs(total - total[0]).max() * 1000.0 / n_atoms),
        "ms_per_step": seconds / max(steps, 1) * 1000.0,
        "stopped": stopped,
    }
    print(f"{structure.name} ({n_atoms} atoms), NVE velocity Verlet {args.timestep} fs x {steps} steps "
          f"= {numbers['simulated_ps']:.3f} ps, model {numbers['model']}")
    print(f"  total-energy drift      {drift:+.3g} meV/atom/ps (linear fit; target |drift| < 1)")
    print(f"  RMS about the fit       {numbers['rms_fluctuation_meV_per_atom']:.3g} meV/atom")
    print(f"  max |E_tot - E_tot(0)|  {numbers['max_deviation_meV_per_atom']:.3g} meV/atom")
    print(f"  mean temperature        {numbers['mean_temperature_K']:.1f} K")
    print(f"  wall time               {numbers['ms_per_step']:.1f} ms/step")
    if stopped:
        print(f"  WARNING: the run ended early, the numbers cover {steps} steps: {stopped}")
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(numbers, handle, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
