"""The shipped model on compressed bonds, beside GFN2-xTB: why the overlap check stops at 0.6 A (issue 23).

For O-H in water, C-H in methane and H-H in H2, one bond shortened to each ``--distances`` value (the other
atoms as in ``ase.build.molecule``): the model's energy relative to its value at the first distance, the
largest force component, and the same for tblite GFN2-xTB. Since v13 the energy is GFN2-xTB plus a damped
correction, so a compressed bond should follow xTB's repulsion.

    OMP_NUM_THREADS=1 python benchmarks/short_bonds.py
"""

from __future__ import annotations

import argparse
import warnings

import numpy as np


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--distances", type=float, nargs="+", default=[1.0, 0.8, 0.7, 0.65, 0.61], help="A")
    args = parser.parse_args(argv)

    from ase.build import molecule
    from tblite.ase import TBLite

    from ase_mlham.calculator import MLHamCalculator

    calculator = MLHamCalculator(n_excitations=0)
    print(f"{'bond':>6} {'d A':>5} {'model dE eV':>11} {'xTB dE eV':>10} {'model |F|max':>12} {'xTB |F|max':>10}")
    for name, bond in (("H2O", "O-H"), ("CH4", "C-H"), ("H2", "H-H")):
        reference = None
        for distance in args.distances:
            atoms = molecule(name)
            vector = atoms.positions[1] - atoms.positions[0]
            atoms.positions[1] = atoms.positions[0] + distance * vector / np.linalg.norm(vector)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # uncertainty warnings are expected here
                atoms.calc = calculator
                model = (atoms.get_potential_energy(), np.abs(atoms.get_forces()).max())
            xtb_atoms = atoms.copy()
            xtb_atoms.calc = TBLite(method="GFN2-xTB", verbosity=0)
            xtb = (xtb_atoms.get_potential_energy(), np.abs(xtb_atoms.get_forces()).max())
            reference = reference or (model[0], xtb[0])
            print(f"{bond:>6} {distance:5.2f} {model[0] - reference[0]:11.3f} {xtb[0] - reference[1]:10.3f} "
                  f"{model[1]:12.1f} {xtb[1]:10.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
