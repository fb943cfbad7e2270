"""Which per-frame signal ranks a model's gap errors on molecules never trained on (issue 22)?

For every frame of each ``--set``: the model's |gap error| against the reference, and candidate
signals of it: the committee's gap σ, the energy correction's σ (per molecule and per atom), the
number of atoms, the disagreement with GFN2-xTB's gap mapped linearly onto the reference gap (the map
fitted on the ``--fit`` frames, held-out frames of training molecules), and minus the predicted gap
(small predicted gaps being the usual failures). Prints Spearman's rank correlation of each with
|error|, set by set; the issue asks >= 0.5 for the gap on unseen molecules.

    OMP_NUM_THREADS=1 python benchmarks/gap_error_signals.py ase_mlham/models/default.pt \\
        --fit runs/split/v12-test.db --set validation=runs/data/mol-validation.db --set test=runs/data/mol-test.db
"""

from __future__ import annotations

import argparse
import warnings

import numpy as np
from scipy.stats import spearmanr

from ase_mlham.data.dataset import read_frames
from ase_mlham.model.baseline import _singlepoint
from ase_mlham.model.io import load_model
from ase_mlham.units import HARTREE_TO_EV


def xtb_gap(numbers: np.ndarray, positions: np.ndarray) -> float:
    """GFN2-xTB's HOMO-LUMO gap, eV."""
    _, result = _singlepoint("GFN2-xTB", numbers, positions, 0.01)
    energies = np.asarray(result.get("orbital-energies")) * HARTREE_TO_EV
    homo = int(np.nonzero(np.asarray(result.get("orbital-occupations")) > 1.0)[0].max())
    return float(energies[homo + 1] - energies[homo])


def frame_rows(model, path: str) -> np.ndarray:
    """Per frame: gap error, committee gap σ, energy σ, atoms, predicted gap, xTB gap, ``(n_frames, 6)``."""
    rows = []
    for frame in read_frames(path):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            prediction = model.predict(frame.numbers, frame.positions, forces=False)
        energies, nocc = prediction.orbital_energies.numpy(), frame.nocc
        gap = energies[nocc] - energies[nocc - 1]
        rows.append((gap - frame.homo_lumo_gap, float(prediction.gap_uncertainty), float(prediction.energy_uncertainty),
                     len(frame.numbers), gap, xtb_gap(frame.numbers, frame.positions)))
    return np.array(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("model")
    parser.add_argument("--fit", required=True, help="frames of training molecules for the xTB gap map")
    parser.add_argument("--set", action="append", required=True, metavar="NAME=DB")
    args = parser.parse_args(argv)
    model = load_model(args.model)
    fit = frame_rows(model, args.fit)
    slope, intercept = np.polyfit(fit[:, 5], fit[:, 4] - fit[:, 0], 1)
    print(f"reference gap ~ {slope:.3f} x GFN2-xTB gap + {intercept:.3f} eV (fitted on {len(fit)} frames)")
    names = ("committee gap sigma", "energy sigma", "energy sigma / atom", "atoms", "xTB disagreement", "-predicted gap")
    print(f"{'set':>12} {'frames':>6} {'gap MAE':>8} " + " ".join(f"{n:>20}" for n in names))
    for entry in [f"fit={args.fit}", *args.set]:
        name, _, path = entry.partition("=")
        x = fit if name == "fit" else frame_rows(model, path)
        error = np.abs(x[:, 0])
        signals = (x[:, 1], x[:, 2], x[:, 2] / x[:, 3], x[:, 3], np.abs(x[:, 4] - (slope * x[:, 5] + intercept)), -x[:, 4])
        print(f"{name:>12} {len(x):6d} {error.mean():8.3f} "
              + " ".join(f"{spearmanr(s, error)[0]:20.2f}" for s in signals))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
