"""Torsion scan of 1,3-butadiene: the HOMO-LUMO gap grows as the pi system is twisted out of conjugation.

Rotates the C1-C2-C3-C4 dihedral from 0 (s-cis) to 180 degrees (s-trans),
moving the C3-C4 half of the molecule rigidly, and prints energy and gap per
angle (optionally a PNG). Planar conformers conjugate the two C=C bonds and
have the smaller gap; at 90 degrees the conjugation is broken and the gap is
largest.

    python examples/torsion_scan.py                            # the shipped model
    python examples/torsion_scan.py --model tiny.pt --step 30 --plot scan.png
"""

from __future__ import annotations

import argparse

import numpy as np
from ase.build import molecule

from ase_mlham import MLHamCalculator


def carbon_chain(atoms) -> list[int]:
    """Indices of the four carbons in bond order C1-C2-C3-C4."""
    carbons = [i for i, symbol in enumerate(atoms.get_chemical_symbols()) if symbol == "C"]
    distances = atoms.get_all_distances()
    ends = [i for i in carbons if sum(distances[i, j] < 1.6 for j in carbons if j != i) == 1]
    chain = [ends[0]]
    while len(chain) < 4:
        chain.append(min((j for j in carbons if j not in chain), key=lambda j: distances[chain[-1], j]))
    return chain


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", help="model file (default: the model shipped with ase-mlham)")
    parser.add_argument("--step", type=float, default=15.0, help="dihedral step, degrees")
    parser.add_argument("--plot", help="write energy and gap against the dihedral to this PNG")
    args = parser.parse_args()

    atoms = molecule("butadiene")
    atoms.calc = MLHamCalculator(args.model)
    c1, c2, c3, c4 = carbon_chain(atoms)
    # the C3-C4 half: C3, C4 and the hydrogens closer to them than to C1/C2
    distances = atoms.get_all_distances()
    half = [i for i in range(len(atoms))
            if min(distances[i, c3], distances[i, c4]) < min(distances[i, c1], distances[i, c2])]
    mask = np.zeros(len(atoms), dtype=bool)
    mask[half] = True

    angles = np.arange(0.0, 180.0 + 1e-9, args.step)
    rows = []
    print(f"{'dihedral':>9} {'E - E(180)':>11} {'HOMO':>8} {'LUMO':>8} {'gap':>7}   (degrees, eV)")
    for angle in angles:
        atoms.set_dihedral(c1, c2, c3, c4, angle, mask=mask)
        energy = atoms.get_potential_energy()
        homo, lumo = atoms.calc.get_homo_lumo()
        rows.append((angle, energy, homo, lumo, lumo - homo))
    rows = np.array(rows)
    rows[:, 1] -= rows[-1, 1]
    for angle, energy, homo, lumo, gap in rows:
        print(f"{angle:9.1f} {energy:11.4f} {homo:8.3f} {lumo:8.3f} {gap:7.3f}")
    print(f"gap change twisted (max) vs planar s-trans: {rows[:, 4].max() - rows[-1, 4]:+.3f} eV")
    if args.plot:
        from matplotlib.figure import Figure

        figure = Figure(figsize=(6, 4), layout="constrained")
        axis = figure.subplots()
        axis.plot(rows[:, 0], rows[:, 4], "o-", color="k", label="HOMO-LUMO gap")
        axis.set_xlabel("C=C-C=C dihedral (degrees)")
        axis.set_ylabel("gap (eV)")
        twin = axis.twinx()
        twin.plot(rows[:, 0], rows[:, 1], "s--", color="tab:blue", label="energy")
        twin.set_ylabel("E - E(s-trans) (eV)")
        figure.legend(loc="upper right")
        figure.savefig(args.plot, dpi=120)
        print(f"wrote {args.plot}")


if __name__ == "__main__":
    main()
