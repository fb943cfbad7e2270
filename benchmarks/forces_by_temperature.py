"""Held-out G2 force errors split by the temperature each frame was sampled at.

The G2 pool's frames come from GFN2-xTB Langevin MD at a temperature per molecule
(``md_temperature``, 300-800 K). For a model file's recorded test frames this prints
the force MAE (eV/A per component) of the frames sampled at or above ``--hot``
against the rest, and the molecules with the largest errors: where the force
error sits decides what data to add.

    OMP_NUM_THREADS=1 python benchmarks/forces_by_temperature.py ase_mlham/models/default.pt

About 10 s per model.
"""

from __future__ import annotations

import argparse
import sys
from collections import defaultdict

import numpy as np
from ase.db import connect

from g2_split import add_split_arguments, split_from_arguments


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_split_arguments(parser, "a model file written by mlham train (its recorded test frames)")
    parser.add_argument("--hot", type=float, default=600.0, help="sampling temperature (K) from which a frame counts as hot")
    parser.add_argument("--worst", type=int, default=3, help="how many worst molecules to list")
    args = parser.parse_args(argv)
    model, split, _ = split_from_arguments(parser, args)
    temperature = {(row.molecule, row.frame): float(row.md_temperature) for row in connect(args.g2).select()}

    errors = {"hot": [], "rest": []}
    per_molecule = defaultdict(list)
    molecule_temperature = {}
    for frame in split["test"]:
        predicted = model.predict(frame.numbers, frame.positions).forces.detach().numpy()
        error = np.abs(predicted - frame.forces).ravel()
        errors["hot" if temperature[(frame.molecule, frame.frame)] >= args.hot else "rest"].append(error)
        per_molecule[frame.molecule].append(error)
        molecule_temperature[frame.molecule] = temperature[(frame.molecule, frame.frame)]

    print(f"{args.model}: held-out G2 force MAE, eV/A per component")
    for group, label in (("hot", f">= {args.hot:g} K"), ("rest", f"< {args.hot:g} K")):
        if errors[group]:
            print(f"  sampled {label:>9}: {np.concatenate(errors[group]).mean():.3f} ({len(errors[group])} frames)")
    worst = sorted(per_molecule, key=lambda name: -np.concatenate(per_molecule[name]).mean())[:args.worst]
    print("  worst molecules: " + ", ".join(
        f"{name} {np.concatenate(per_molecule[name]).mean():.3f} ({molecule_temperature[name]:.0f} K)" for name in worst))
    return 0


if __name__ == "__main__":
    sys.exit(main())
