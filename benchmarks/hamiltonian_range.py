"""Which interatomic distances of H' carry a model's size trend and its errors on molecules never trained on
(issue 21, diagnosis): the same trained H' with every element between atoms farther apart than ``d`` set to
zero, for several ``d``. No retraining: a cut that helps says where the learned couplings are wrong, not
what a model trained with that cut would do.

1. All-trans n-alkanes (C2 to C33): the HOMO-LUMO gap per cut (B3LYP/def2-TZVP's alkane gap changes little
   with length; a gap that keeps falling with the chain means couplings that build bands).
2. With ``--validation DB...``: gap and occupied-valence MAE (eV) on those frames per cut, and the
   features' range: the share of the middle carbon's LODE and density invariants (l = 0) outside the
   range seen on ``--training`` frames.

    OMP_NUM_THREADS=1 python benchmarks/hamiltonian_range.py --validation runs/data/mol-validation.db \\
        --training runs/split/v12-train.db
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch

from ase_mlham.basis import ao_slices
from ase_mlham.electronic import number_of_occupied_orbitals
from ase_mlham.metrics import ErrorAccumulator

sys.path.insert(0, str(Path(__file__).resolve().parent))
from speed import alkane  # noqa: E402  (the same geometry builder)


def cut_hamiltonian(hamiltonian: np.ndarray, numbers: np.ndarray, distances: np.ndarray,
                    cut: float | None) -> np.ndarray:
    """``hamiltonian`` ``(n_ao, n_ao)`` with the elements between atoms at least ``cut`` A apart set to 0."""
    if cut is None:
        return hamiltonian
    atom = np.concatenate([[i] * (s.stop - s.start) for i, s in enumerate(ao_slices(numbers))])
    return np.where(distances[atom][:, atom] < cut, hamiltonian, 0.0)


def hamiltonian_of(model, atoms) -> np.ndarray:
    with torch.no_grad():
        return model.electronic(atoms.numbers, torch.tensor(atoms.positions))["hamiltonian"].numpy()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default=None, help="model file (default: the shipped one)")
    parser.add_argument("--cuts", type=float, nargs="+", default=[5.0, 4.0, 3.5, 3.0, 2.6],
                        help="distances (A) beyond which H' elements are zeroed")
    parser.add_argument("--carbons", type=int, nargs="+", default=[2, 4, 8, 12, 16, 24, 33])
    parser.add_argument("--validation", nargs="*", default=[], help="frames of molecules never trained on")
    parser.add_argument("--training", nargs="*", default=[], help="frames whose feature range is 'seen'")
    args = parser.parse_args(argv)

    from ase_mlham.calculator import DEFAULT_MODEL_PATH
    from ase_mlham.data.dataset import read_frames
    from ase_mlham.model.io import load_model

    model = load_model(args.model or DEFAULT_MODEL_PATH)
    cuts = [None, *args.cuts]
    header = " ".join(f"{'all' if c is None else f'd<{c:g}':>7}" for c in cuts)
    print(f"n-alkane HOMO-LUMO gap (eV), H' cut beyond d (A)\n{'':>6} {header}")
    for n in args.carbons:
        atoms = alkane(n)
        hamiltonian, nocc = hamiltonian_of(model, atoms), number_of_occupied_orbitals(atoms.numbers)
        gaps = []
        for cut in cuts:
            energies = np.linalg.eigvalsh(cut_hamiltonian(hamiltonian, atoms.numbers, atoms.get_all_distances(), cut))
            gaps.append(energies[nocc] - energies[nocc - 1])
        print(f"C{n:<5d}" + " ".join(f"{g:7.2f}" for g in gaps))

    if args.validation:
        frames = [f for path in args.validation for f in read_frames(path)]
        accumulators = {cut: ErrorAccumulator() for cut in cuts}
        for frame in frames:
            atoms = frame.to_atoms()
            hamiltonian = hamiltonian_of(model, atoms)
            for cut, accumulator in accumulators.items():
                energies = np.linalg.eigvalsh(cut_hamiltonian(hamiltonian, frame.numbers, atoms.get_all_distances(), cut))
                accumulator.add_orbitals(energies, frame.mo_target, frame.numbers, frame.nocc)
        summaries = [accumulators[c].summary() for c in cuts]
        print(f"\n{len(frames)} frames of {len({f.molecule for f in frames})} molecules never trained on, MAE (eV)"
              f"\n{'':>17} {header}")
        for group, label in (("gap", "gap"), ("occupied_valence", "occupied valence")):
            print(f"{label:>17} " + " ".join(f"{summary[group].mae:7.3f}" for summary in summaries))

    if args.training:
        seen = {"LODE": [], "density": []}
        for frame in (f for path in args.training for f in read_frames(path)):
            carbons = frame.numbers == 6
            if not carbons.any():
                continue
            with torch.no_grad():
                features = model.features(frame.numbers, torch.tensor(frame.positions))
            if features.lode_potential is not None:
                seen["LODE"].append(features.lode_potential[carbons][..., 0].reshape(int(carbons.sum()), -1).numpy())
            seen["density"].append(features.density[carbons][..., 0].reshape(int(carbons.sum()), -1).numpy())
        print("\nmiddle carbon of each n-alkane: share of l = 0 invariants outside the training carbons' range")
        print(f"{'':>6} " + " ".join(f"{name:>8}" for name in seen if seen[name]))
        for n in args.carbons:
            atoms = alkane(n)
            with torch.no_grad():
                features = model.features(atoms.numbers, torch.tensor(atoms.positions))
            carbons = np.where(atoms.numbers == 6)[0]
            middle = carbons[len(carbons) // 2]
            shares = []
            for name, values in seen.items():
                if not values:
                    continue
                train = np.concatenate(values)
                block = features.lode_potential if name == "LODE" else features.density
                x = block[middle][..., 0].reshape(-1).numpy()
                shares.append(np.mean((x < train.min(0)) | (x > train.max(0))))
            print(f"C{n:<5d}" + " ".join(f"{s:8.0%}" for s in shares))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
