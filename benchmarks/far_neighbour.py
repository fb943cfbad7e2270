"""What a neutral molecule a few Angstrom away does to a molecule: a size-consistency check at short range.

Beyond the longest feature range (LODE, 12 A + 0.5 A switch-off) two molecules
are exactly independent (``tests/model/test_model.py::test_far_apart_copies_are_additive``). Closer in,
the model is free to couple them, and physics says the coupling of two neutral,
closed-shell molecules whose nearest atoms are 4 A or more apart is small:
interaction energies of meV, orbital energies shifted by tens of meV. GFN2-xTB
(tblite) gives that scale on the same geometries.

For each pair A + B and each gap (the shortest A-B atom distance, B moved along
z from A's side), with A and B at their ASE/G2 geometries:

* ``E_int``: E(A+B) - E(A) - E(B), meV;
* ``|dF_A|``: mean over A's atoms of |F_A(in A+B) - F_A(alone)|, eV/A;
* ``spectrum``: mean absolute difference between the sorted orbital energies of
  A+B and the sorted union of A's and B's, eV (the whole minimal-basis spectrum
  for a model, the valence spectrum for xTB).

    OMP_NUM_THREADS=1 python benchmarks/far_neighbour.py --models ase_mlham/models/default.pt runs/other.pt

About a minute per model.
"""

from __future__ import annotations

import argparse
import sys

import numpy as np
from ase import Atoms
from ase.build import molecule
from ase.units import Bohr, Hartree

DEFAULT_PAIRS = ("trans-butane:CH4", "trans-butane:trans-butane", "trans-butane:C6H6", "H2O:H2O")


def placed(first: Atoms, second: Atoms, gap: float) -> Atoms:
    """``first + second``, ``second`` above ``first`` along z with the shortest A-B distance ``gap`` (A)."""
    second = second.copy()
    second.translate([0.0, 0.0, first.positions[:, 2].max() - second.positions[:, 2].min() + gap])
    for _ in range(50):  # the z offset is a lower bound; push until the nearest pair is at the gap
        nearest = np.linalg.norm(first.positions[:, None] - second.positions[None], axis=-1).min()
        if abs(nearest - gap) < 1e-6:
            return first + second
        second.translate([0.0, 0.0, gap - nearest])
    raise RuntimeError(f"could not place the molecules {gap} A apart")


def model_singlepoint(calculator, atoms: Atoms) -> tuple[float, np.ndarray, np.ndarray]:
    """Energy (eV), forces ``(n_atoms, 3)`` eV/A and ascending orbital energies (eV) of an ase-mlham model."""
    atoms = atoms.copy()
    atoms.calc = calculator
    energy = atoms.get_potential_energy()
    return energy, atoms.get_forces(), np.sort(np.ravel(calculator.results["eigenvalues"]))


def xtb_singlepoint(atoms: Atoms) -> tuple[float, np.ndarray, np.ndarray]:
    """The same three quantities from a GFN2-xTB singlepoint (tblite)."""
    from tblite.interface import Calculator

    calculator = Calculator("GFN2-xTB", atoms.numbers, atoms.positions / Bohr)
    calculator.set("verbosity", 0)
    result = calculator.singlepoint()
    forces = -np.asarray(result.get("gradient")) * Hartree / Bohr
    return (float(result.get("energy")) * Hartree, forces,
            np.sort(np.asarray(result.get("orbital-energies")) * Hartree))


def coupling(monomers: tuple, dimer: tuple, n_first: int) -> tuple[float, float, float]:
    """``(E_int meV, mean |dF_A| eV/A, spectrum MAE eV)`` from the singlepoints of A and B alone
    (``monomers``) and of A + B (``dimer``, A's ``n_first`` atoms first)."""
    (energy_a, forces_a, levels_a), (energy_b, _, levels_b) = monomers
    energy, forces, levels = dimer
    separate = np.sort(np.concatenate([levels_a, levels_b]))
    force_change = np.linalg.norm(forces[:n_first] - forces_a, axis=1).mean()
    return 1000 * (energy - energy_a - energy_b), float(force_change), float(np.abs(levels - separate).mean())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--models", nargs="+", default=[None], help="model files (default: the shipped model)")
    parser.add_argument("--pairs", nargs="+", default=list(DEFAULT_PAIRS), help="A:B, G2 names")
    parser.add_argument("--gaps", nargs="+", type=float, default=[4.0, 6.0, 8.0, 10.0, 13.0],
                        help="shortest A-B atom distances, Angstrom")
    parser.add_argument("--no-xtb", action="store_true", help="leave out the GFN2-xTB column")
    args = parser.parse_args(argv)

    from ase_mlham.calculator import MLHamCalculator

    methods = {}
    for path in args.models:
        calculator = MLHamCalculator(model=path)
        methods[path or "default"] = lambda atoms, calculator=calculator: model_singlepoint(calculator, atoms)
    if not args.no_xtb:
        methods["GFN2-xTB"] = xtb_singlepoint
    print("E_int (meV) / mean |dF_A| (eV/A) / spectrum MAE (eV)")
    print(f"{'A:B':<28} {'gap, A':>6}  " + "  ".join(f"{name[-24:]:>24}" for name in methods))
    for pair in args.pairs:
        first, second = (molecule(name) for name in pair.split(":"))
        # A and B alone do not depend on the gap: one singlepoint each per method
        monomers = [(singlepoint(first), singlepoint(second)) for singlepoint in methods.values()]
        for gap in args.gaps:
            dimer = placed(first, second, gap)
            cells = [coupling(alone, singlepoint(dimer), len(first))
                     for alone, singlepoint in zip(monomers, methods.values())]
            print(f"{pair:<28} {gap:>6.1f}  "
                  + "  ".join(f"{e:>8.0f} / {f:.3f} / {s:.3f}" for e, f, s in cells), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
