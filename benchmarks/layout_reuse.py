"""What reusing the block layout of H' saves per MD step (issue 24): ``MLHamModel.electronic`` on one
structure, median of repeated calls, with the model's last layout kept and with it cleared before
each call, in one process and one thread.

    OMP_NUM_THREADS=1 python benchmarks/layout_reuse.py                       # aspirin (the speed issue's 21 atoms)
    OMP_NUM_THREADS=1 python benchmarks/layout_reuse.py --molecule smiles:CCO --repeats 50
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
import torch

from ase_mlham.calculator import DEFAULT_MODEL_PATH
from ase_mlham.data.molecules import resolve_structure
from ase_mlham.model.io import load_model


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default=str(DEFAULT_MODEL_PATH))
    parser.add_argument("--molecule", default="smiles:CC(=O)Oc1ccccc1C(=O)O")
    parser.add_argument("--repeats", type=int, default=20)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    warnings.simplefilter("ignore")
    model = load_model(args.model)
    atoms = resolve_structure(args.molecule, seed=0).atoms
    positions = torch.tensor(atoms.positions)

    def median_ms(reuse: bool) -> float:
        times = []
        for _ in range(args.repeats):
            if not reuse:
                model._last_layout = None
            start = time.perf_counter()
            model.electronic(atoms.numbers, positions)
            times.append(time.perf_counter() - start)
        return 1000 * float(np.median(times))

    model.electronic(atoms.numbers, positions)  # warm-up
    for _ in range(3):
        print(f"{len(atoms)} atoms: H' + eigenvalues + committee {median_ms(True):.1f} ms with the layout reused, "
              f"{median_ms(False):.1f} ms rebuilt")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
