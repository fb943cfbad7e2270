"""Direct-learning baseline: the model's own invariant features regress HOMO, LUMO and gap directly.

The indirect model predicts a Hamiltonian whose eigenvalues give the orbital
energies of any molecule; a direct model maps a fixed-length molecular
descriptor straight to the gap. Both use the same training frames (the model
file's training split of the G2 pool) and the same invariants (the energy head's
local + LODE invariants, ``MLHamModel.energy_features``), so the table shows
whether predicting a Hamiltonian transfers better to molecules larger than any
trained on.

Direct models (HOMO, LUMO, gap in eV, fitted separately):

* ``direct linear``: ridge regression on the molecular descriptor, the
  per-species mean of the atoms' invariants concatenated over species (zeros for
  an absent species; a mean because orbital energies are intensive);
* ``direct kernel``: kernel ridge regression with a Gaussian kernel on the same
  descriptor, standardised.

Regularisation and kernel width are chosen on the model's validation frames.

    python benchmarks/direct_gap.py MODEL.pt [--g2 DB] [--larger DB]
"""

from __future__ import annotations

import argparse
import sys
from typing import Sequence

import numpy as np
import torch

from ase_mlham.data.dataset import ReferenceFrame
from ase_mlham.model.model import MLHamModel
from g2_split import add_split_arguments, split_from_arguments
TARGETS = ("HOMO", "LUMO", "gap")


def frontier_energies(orbital_energies: np.ndarray, nocc: int) -> np.ndarray:
    """``(3,)`` HOMO, LUMO, gap in eV."""
    homo, lumo = orbital_energies[nocc - 1], orbital_energies[nocc]
    return np.array([homo, lumo, lumo - homo])


def molecular_descriptor(model: MLHamModel, frame: ReferenceFrame) -> np.ndarray:
    """Per-species mean invariants, concatenated, ``(n_species * n_invariants,)``."""
    with torch.no_grad():
        invariants = model.energy_features(frame.numbers, torch.tensor(frame.positions)).numpy()
    parts = []
    for z in model.species:
        atoms = np.asarray(frame.numbers) == z
        parts.append(invariants[atoms].mean(0) if atoms.any() else np.zeros(invariants.shape[1]))
    return np.concatenate(parts)


class RidgeModel:
    """Linear ridge (``width=None``) or Gaussian kernel ridge on standardised descriptors."""

    def __init__(self, x: np.ndarray, y: np.ndarray, regularisation: float, width: float | None) -> None:
        self.mean, self.std = x.mean(0), x.std(0) + 1e-12
        self.x = (x - self.mean) / self.std
        self.y_mean = y.mean(0)
        self.width = width
        if width is None:
            gram = self.x.T @ self.x
            self.weights = np.linalg.solve(gram + regularisation * np.trace(gram) / len(gram) * np.eye(len(gram)),
                                           self.x.T @ (y - self.y_mean))
        else:
            kernel = self._kernel(self.x)
            self.weights = np.linalg.solve(kernel + regularisation * np.eye(len(kernel)), y - self.y_mean)

    def _kernel(self, x: np.ndarray) -> np.ndarray:
        # |a - b|^2 = |a|^2 + |b|^2 - 2 a.b: no (n, n_train, n_features) intermediate
        squared = ((x**2).sum(1)[:, None] + (self.x**2).sum(1)[None, :] - 2 * x @ self.x.T) / self.x.shape[1]
        return np.exp(-squared / (2 * self.width**2))

    def __call__(self, x: np.ndarray) -> np.ndarray:
        x = (x - self.mean) / self.std
        features = x if self.width is None else self._kernel(x)
        return features @ self.weights + self.y_mean


def fit_on_validation(x_train, y_train, x_val, y_val, widths: Sequence[float | None]) -> RidgeModel:
    """The ridge model with the smallest validation MAE over a grid."""
    best, best_error = None, np.inf
    for width in widths:
        for regularisation in 10.0 ** np.arange(-8, 1):
            model = RidgeModel(x_train, y_train, regularisation, width)
            error = np.abs(model(x_val) - y_val).mean()
            if error < best_error:
                best, best_error = model, error
    return best


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_split_arguments(parser, "a model file written by mlham train (its splits are used)")
    args = parser.parse_args(argv)

    model, split, larger = split_from_arguments(parser, args)
    train, validation, test = split["train"], split["validation"], split["test"]
    sets = {"train": train, "validation": validation, "G2 test": test, "larger": larger}
    x = {name: np.stack([molecular_descriptor(model, f) for f in frames]) for name, frames in sets.items()}
    y = {name: np.stack([frontier_energies(np.asarray(f.mo_target), f.nocc) for f in frames])
         for name, frames in sets.items()}
    direct = {
        "direct linear": fit_on_validation(x["train"], y["train"], x["validation"], y["validation"], [None]),
        "direct kernel": fit_on_validation(x["train"], y["train"], x["validation"], y["validation"],
                                           [0.3, 1.0, 3.0, 10.0]),
    }
    predictions = {name: {s: m(x[s]) for s in ("G2 test", "larger")} for name, m in direct.items()}
    predictions["indirect (H')"] = {
        s: np.stack([frontier_energies(model.predict(f.numbers, f.positions, forces=False)
                                       .orbital_energies.numpy(), f.nocc) for f in sets[s]])
        for s in ("G2 test", "larger")}

    print(f"{args.model.name}: {len(train)} training frames; MAE in eV (HOMO / LUMO / gap)")
    header = f"{'set':<24}" + "".join(f"{name:>26}" for name in predictions)
    print(header)
    print("-" * len(header))
    rows = [("G2 test", slice(None), f"G2 test ({len(test)} frames)")]
    rows += [("larger", np.array([f.molecule == m for f in larger]), m) for m in dict.fromkeys(f.molecule for f in larger)]
    rows += [("larger", slice(None), f"larger, all ({len(larger)})")]
    for set_name, selection, label in rows:
        cells = []
        for name in predictions:
            error = np.abs(predictions[name][set_name][selection] - y[set_name][selection]).reshape(-1, 3).mean(0)
            cells.append(" / ".join(f"{e:.2f}" for e in error))
        print(f"{label:<24}" + "".join(f"{c:>26}" for c in cells))
    return 0


if __name__ == "__main__":
    sys.exit(main())
