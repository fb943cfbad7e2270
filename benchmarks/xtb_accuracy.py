"""Cost and force consistency of the GFN2-xTB baseline at the model's SCC accuracy and at tblite's default.

For aspirin and the alkanes C33H68 and C100H202: four geometries displaced by 0.01-0.04 A rms, each
computed by an :class:`~ase_mlham.model.baseline.XTBBaseline` restarted from the previous one (as in MD);
prints the mean time of the restarted steps and the largest energy and force differences between the
accuracies. The model runs its baseline at accuracy 0.01 so that its forces are minus the gradient of its
energy to 1e-5 eV/A (``tests/model/test_baseline.py``); tblite's default is 1.

    OMP_NUM_THREADS=1 python benchmarks/xtb_accuracy.py
"""

from __future__ import annotations

import time

import numpy as np

from speed import alkane

from ase_mlham.data.molecules import resolve_structure
from ase_mlham.model.baseline import XTB_ACCURACY, XTBBaseline


def main() -> int:
    cases = [("aspirin", resolve_structure("smiles:CC(=O)Oc1ccccc1C(=O)O", seed=0).atoms),
             ("C33H68", alkane(33)), ("C100H202", alkane(100))]
    accuracies = (XTB_ACCURACY, 1.0)
    print(f"{'molecule':>10} {'atoms':>5} " + " ".join(f"{f'ms (acc {a:g})':>13}" for a in accuracies)
          + f" {'max |dE| meV':>12} {'max |dF| eV/A':>13}")
    for name, atoms in cases:
        rng = np.random.default_rng(0)
        trajectory = [atoms.positions + 0.01 * (k + 1) * rng.normal(size=atoms.positions.shape) for k in range(4)]
        results, seconds = {}, {}
        for accuracy in accuracies:
            baseline = XTBBaseline("GFN2-xTB", accuracy)
            results[accuracy] = [baseline(atoms.numbers, trajectory[0])]
            start = time.perf_counter()  # the restarted steps only
            results[accuracy] += [baseline(atoms.numbers, positions) for positions in trajectory[1:]]
            seconds[accuracy] = (time.perf_counter() - start) / (len(trajectory) - 1)
        tight, loose = results[accuracies[0]], results[accuracies[1]]
        energy = max(abs(a[0] - b[0]) for a, b in zip(tight, loose))
        forces = max(float(np.abs(a[1] - b[1]).max()) for a, b in zip(tight, loose))
        print(f"{name:>10} {len(atoms):5d} " + " ".join(f"{1000 * seconds[a]:13.0f}" for a in accuracies)
              + f" {1000 * energy:12.4f} {forces:13.2e}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
