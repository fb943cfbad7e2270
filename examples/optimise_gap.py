"""Geometry optimisation (BFGS) with the ML Hamiltonian: how the HOMO-LUMO gap changes on relaxation.

Starts from a distorted geometry (random displacements), relaxes it, and prints
energy, gap and orbital energies before and after; optional fixed atoms.

    python examples/optimise_gap.py                               # the shipped model, formaldehyde
    python examples/optimise_gap.py --model tiny.pt --molecule C6H6 --fix 0 1 --fmax 0.05
"""

from __future__ import annotations

import argparse

from ase.build import molecule
from ase.constraints import FixAtoms
from ase.optimize import BFGS

from ase_mlham import MLHamCalculator


def describe(label: str, atoms) -> None:
    calc = atoms.calc
    energy = atoms.get_potential_energy()  # one model call fills every result below
    homo, lumo = calc.get_homo_lumo()
    forces = atoms.get_forces()
    print(f"{label:>7}: E = {energy:.4f} eV, max |F| = {abs(forces).max():.3f} eV/A, "
          f"HOMO = {homo:.3f} eV, LUMO = {lumo:.3f} eV, gap = {lumo - homo:.3f} eV")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", help="model file (default: the model shipped with ase-mlham)")
    parser.add_argument("--molecule", default="H2CO", help="G2 name (ase.build.molecule)")
    parser.add_argument("--rattle", type=float, default=0.08, help="random displacement of the start, A")
    parser.add_argument("--fix", type=int, nargs="*", default=[], help="indices of atoms held fixed")
    parser.add_argument("--fmax", type=float, default=0.02, help="force convergence, eV/A")
    parser.add_argument("--steps", type=int, default=200, help="maximum BFGS steps")
    parser.add_argument("--trajectory", help="write the optimisation as an ASE .traj file")
    args = parser.parse_args()

    atoms = molecule(args.molecule)
    atoms.rattle(stdev=args.rattle, seed=1)
    if args.fix:
        atoms.set_constraint(FixAtoms(indices=args.fix))
    atoms.calc = MLHamCalculator(args.model)
    describe("before", atoms)
    converged = BFGS(atoms, trajectory=args.trajectory, maxstep=0.1).run(fmax=args.fmax, steps=args.steps)
    describe("after", atoms)
    print("converged" if converged else f"not converged in {args.steps} steps")
    print("orbital energies (eV):", " ".join(f"{e:.2f}" for e in atoms.calc.get_eigenvalues()))


if __name__ == "__main__":
    main()
