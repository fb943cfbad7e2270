"""Langevin MD of a molecule with the ML Hamiltonian, printing the HOMO-LUMO gap as it runs.

Uses the calculator directly in ASE's own Langevin integrator (what ``mlham md``
wraps), logging the orbital quantities the trajectory writers drop.

    python examples/md_gap_monitoring.py                       # the shipped model, ethanol
    python examples/md_gap_monitoring.py --model tiny.pt --molecule C6H6 --steps 50
"""

from __future__ import annotations

import argparse

import numpy as np
from ase import units
from ase.build import molecule
from ase.constraints import FixCom
from ase.md.langevin import Langevin
from ase.md.velocitydistribution import Stationary, ZeroRotation, thermalize_momenta

from ase_mlham import MLHamCalculator


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", help="model file (default: the model shipped with ase-mlham)")
    parser.add_argument("--molecule", default="CH3CH2OH", help="G2 name (ase.build.molecule)")
    parser.add_argument("--steps", type=int, default=200, help="MD steps")
    parser.add_argument("--temperature", type=float, default=300.0, help="K")
    parser.add_argument("--timestep", type=float, default=0.5, help="fs")
    parser.add_argument("--every", type=int, default=10, help="print every N steps")
    args = parser.parse_args()

    atoms = molecule(args.molecule)
    atoms.calc = MLHamCalculator(args.model)
    rng = np.random.default_rng(0)
    thermalize_momenta(atoms, temperature_K=args.temperature, rng=rng)
    Stationary(atoms)
    ZeroRotation(atoms)
    atoms.set_constraint(FixCom())
    dynamics = Langevin(atoms, args.timestep * units.fs, temperature_K=args.temperature,
                        friction=0.01 / units.fs, fixcm=False, rng=rng)
    gaps = []

    def report() -> None:
        calc = atoms.calc  # results of the current step: no new model call
        homo, lumo = calc.get_homo_lumo()
        gaps.append(lumo - homo)
        if dynamics.nsteps % args.every == 0:
            print(f"{dynamics.nsteps * args.timestep:8.1f} fs  E_pot {atoms.get_potential_energy():12.4f} eV  "
                  f"T {atoms.get_temperature():6.1f} K  HOMO {homo:8.3f}  LUMO {lumo:8.3f}  gap {lumo - homo:6.3f} eV")

    dynamics.attach(report, interval=1)
    atoms.get_potential_energy()
    print(f"{args.molecule}: {len(atoms)} atoms, {atoms.calc.get_number_of_bands()} orbitals, "
          f"{int(atoms.calc.get_occupation_numbers().sum())} electrons")
    dynamics.run(args.steps)
    gaps = np.array(gaps)
    print(f"gap over {args.steps} steps: {gaps.mean():.3f} +- {gaps.std():.3f} eV "
          f"(min {gaps.min():.3f}, max {gaps.max():.3f})")


if __name__ == "__main__":
    main()
