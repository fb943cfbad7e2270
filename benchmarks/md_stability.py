"""Stability of Langevin MD on a model's energy surface, checked against DFT along the way.

For each molecule: Langevin MD with the model (``mlham md`` settings: 300 K,
0.5 fs, friction 0.01/fs, no excitations) for ``--steps`` steps; a run stops
early when atoms collapse onto each other (the calculator's overlapping-atoms
error). Then B3LYP/def2-TZVP references (the training level, `mlham generate`'s
settings) of ``--dft-frames`` frames evenly spaced along what ran, the last
frame included: how far the model's energy (relative to its own value at the
starting geometry) and forces drift from DFT where its MD actually goes. A model
with a hole or a too-soft direction in its surface shows here as a run that
stops, a shortest bond far below chemical values, or relative-energy errors that
grow along the run.

    OMP_NUM_THREADS=1 python benchmarks/md_stability.py --model ase_mlham/models/default.pt \\
        --json runs/md-stability.json

Prints one row per molecule. DFT costs ~30 s (butadiene) to ~90 s (pyridine)
per frame on one core.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time

import numpy as np

#: Conjugated, saturated, aromatic, hetero and carbonyl molecules of the G2 pool.
DEFAULT_MOLECULES = ("butadiene", "trans-butane", "C6H6", "C5H5N", "CH3COCH3", "CH3CH2OH", "isobutene")


def shortest_distance(positions: np.ndarray) -> float:
    """Shortest interatomic distance of ``(n_atoms, 3)`` positions, Angstrom."""
    distances = np.linalg.norm(positions[:, None] - positions[None], axis=-1)
    return float(distances[np.triu_indices(len(positions), 1)].min())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--model", help="model file (default: the model shipped with ase-mlham)")
    parser.add_argument("--molecules", nargs="+", default=list(DEFAULT_MOLECULES),
                        help="G2 names, structure files or SMILES")
    parser.add_argument("--steps", type=int, default=2000, help="MD steps per molecule")
    parser.add_argument("--timestep", type=float, default=0.5, help="fs")
    parser.add_argument("--temperature", type=float, default=300.0, help="Langevin temperature, K")
    parser.add_argument("--dft-frames", type=int, default=3, help="DFT references per molecule (0: none)")
    parser.add_argument("--seed", type=int, default=0, help="seed of velocities and thermostat")
    parser.add_argument("--json", help="also write the rows as JSON here")
    args = parser.parse_args(argv)

    from ase.io import read

    from ase_mlham.calculator import MLHamCalculator
    from ase_mlham.data.molecules import resolve_structure
    from ase_mlham.data.reference import ReferenceSettings, compute_reference
    from ase_mlham.md import MDSettings, run_md

    calculator = MLHamCalculator(args.model, n_excitations=0)
    interval = max(args.steps // 100, 1)
    settings = MDSettings(steps=args.steps, temperature=args.temperature, timestep=args.timestep,
                          seed=args.seed, interval=interval)
    rows = []
    print(f"Langevin {args.temperature:g} K, {args.steps} x {args.timestep:g} fs; model vs B3LYP/def2-TZVP at "
          f"{args.dft_frames} frames (energies relative to the starting geometry)")
    print(f"{'molecule':>14} {'ran fs':>7} {'stopped':>8} {'min d/A':>8} {'max T/K':>8} "
          f"{'|dE| meV/atom (along run)':>28} {'F MAE eV/A':>11} {'s/step':>7}")
    for name in args.molecules:
        structure = resolve_structure(name, seed=args.seed)
        atoms = structure.atoms
        stopped = ""
        with tempfile.TemporaryDirectory() as scratch:
            start = time.perf_counter()
            try:
                run_md(atoms, scratch, settings, calculator=calculator, show_progress=False, plot=False)
            except ValueError as err:  # atoms collapsed on the model's surface
                stopped = str(err)
            seconds = time.perf_counter() - start
            frames = read(f"{scratch}/trajectory.extxyz", index=":")
        ran_fs = float(frames[-1].info["time_fs"])
        d_min = min(shortest_distance(f.positions) for f in frames)
        t_max = max(float(f.get_temperature()) for f in frames)
        picks = np.unique(np.linspace(0, len(frames) - 1, args.dft_frames + 1).round().astype(int))
        reference_start = compute_reference(frames[0], ReferenceSettings()) if args.dft_frames else None
        model_start = float(frames[0].get_potential_energy())
        energy_errors, force_errors, times = [], [], []
        for index in picks[1:] if args.dft_frames else []:
            frame = frames[index]
            reference = compute_reference(frame, ReferenceSettings())
            model_energy = float(frame.get_potential_energy())
            error = (model_energy - model_start) - (reference.energy - reference_start.energy)
            energy_errors.append(1000 * abs(error) / len(atoms))
            force_errors.append(float(np.abs(frame.get_forces() - reference.forces).mean()))
            times.append(float(frame.info["time_fs"]))
        row = {"molecule": structure.name, "ran_fs": ran_fs, "stopped": stopped, "min_distance_A": d_min,
               "max_temperature_K": t_max, "dft_times_fs": times, "energy_errors_meV_per_atom": energy_errors,
               "force_mae_eV_per_A": float(np.mean(force_errors)) if force_errors else None,
               "seconds_per_step": seconds / max(round(ran_fs / args.timestep), 1)}
        rows.append(row)
        along = " ".join(f"{e:.0f}" for e in energy_errors) or "-"
        force = f"{row['force_mae_eV_per_A']:.3f}" if force_errors else "-"
        print(f"{structure.name:>14} {ran_fs:>7.0f} {'yes' if stopped else 'no':>8} {d_min:>8.3f} {t_max:>8.0f} "
              f"{along:>28} {force:>11} {row['seconds_per_step']:>7.3f}", flush=True)
    if args.json:
        with open(args.json, "w") as handle:
            json.dump({"settings": vars(args), "rows": rows}, handle, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
