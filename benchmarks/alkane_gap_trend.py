"""The models' HOMO-LUMO gap along the n-alkanes (issue 21): does it fall with size?

B3LYP/def2-TZVP's gap of the all-trans n-alkanes barely changes from C10 on; a Hamiltonian whose
off-site blocks add small errors at every pair of atoms lets the gap fall as the chain grows (v14:
9.7 eV for butane, 6.4 for C24H50). Each chain is built from SMILES (RDKit), relaxed with GFN2-xTB
(BFGS to 0.05 eV/A) and predicted by every model given; no reference is computed here (the size
series of data/README.md holds B3LYP references of C10, C14 and C18 once generated).

    OMP_NUM_THREADS=1 python benchmarks/alkane_gap_trend.py ase_mlham/models/default.pt runs/v14.pt
"""

from __future__ import annotations

import argparse
import warnings
from pathlib import Path

from ase.optimize import BFGS

from ase_mlham.data.molecules import resolve_structure
from ase_mlham.model.io import load_model


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("models", nargs="+", type=Path, help="model files")
    # octane, dodecane and hexadecane are reserved for independent evaluation (data issue): not used here
    parser.add_argument("--carbons", type=int, nargs="+", default=[4, 6, 10, 14, 18, 24])
    args = parser.parse_args(argv)
    from tblite.ase import TBLite

    models = {path.stem: load_model(path) for path in args.models}
    print(f"{'alkane':>8} {'atoms':>5} " + " ".join(f"{name:>14}" for name in models) + "   (gap, eV)")
    for n in args.carbons:
        atoms = resolve_structure("smiles:" + "C" * n, seed=0).atoms
        atoms.calc = TBLite(method="GFN2-xTB", verbosity=0)
        BFGS(atoms, logfile=None).run(fmax=0.05, steps=500)
        gaps = []
        for model in models.values():
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # size warnings: that is the point here
                prediction = model.predict(atoms.numbers, atoms.positions, forces=False)
            energies, nocc = prediction.orbital_energies, prediction.nocc
            gaps.append(float(energies[nocc] - energies[nocc - 1]))
        print(f"{'C' + str(n) + 'H' + str(2 * n + 2):>8} {len(atoms):5d} " + " ".join(f"{g:14.3f}" for g in gaps),
              flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
