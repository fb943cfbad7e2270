"""Which Hamiltonian blocks are wrong: a model's H' block by block against the ridge start's target.

For each frame of the chosen molecules, the model's H' (Löwdin-orthogonal STO-3G
basis, eV) and the frame's "adjusted" target (the B3LYP/STO-3G Kohn-Sham
eigenvectors with the def2-TZVP orbital energies as eigenvalues, the target of the
closed-form start, ``training.initialise.ridge_target``) are both coupled into
blocks (``model.blocks.hamiltonian_to_blocks``). Per atom pair the error is the
largest difference among the block's 2 lambda + 1 components; the keys with the
largest errors are listed with the RMS over their pairs and the distance of their
worst pair.

Indirect learning fits eigenvalues, not blocks, so a trained model's blocks need
not equal this target: compare with the same table on a held-out frame of a
training molecule (e.g. ``--molecules C5H5N``) for the scale of harmless
differences. A block key off by several eV where in-distribution frames are off
by tenths points at an environment the training data lacks.

    python benchmarks/block_errors.py MODEL.pt DB --molecules pyrimidine [--top 8] [--max-frames N]
"""

from __future__ import annotations

import argparse
from typing import Sequence

import numpy as np
import torch

from ase_mlham.data.dataset import read_frames
from ase_mlham.model.blocks import hamiltonian_to_blocks
from ase_mlham.model.io import load_model
from ase_mlham.training.initialise import ridge_target


def block_error_table(model_path: str, db: str, molecules: Sequence[str], top: int,
                      max_frames: int | None = None) -> str:
    model = load_model(model_path)
    lines = []
    for molecule in molecules:
        frames = read_frames(db, molecule=molecule)[:max_frames]
        if not frames:
            raise SystemExit(f"no frames of molecule {molecule!r} in {db}")
        for frame in frames:
            with torch.no_grad():
                prediction = model.predict(frame.numbers, frame.positions, forces=False)
            predicted = hamiltonian_to_blocks(prediction.hamiltonian, frame.numbers)
            target = hamiltonian_to_blocks(ridge_target(frame, "adjusted"), frame.numbers)
            distances = np.linalg.norm(frame.positions[:, None] - frame.positions[None], axis=-1)
            errors = []
            for key, values in predicted.values.items():
                difference = (values - target.values[key]).abs().max(dim=1).values  # per atom pair, eV
                worst = int(difference.argmax())
                i, j = (int(a) for a in predicted.samples[key][worst])
                errors.append((float(difference.max()), float(difference.pow(2).mean().sqrt()), key,
                               float(distances[i, j])))
            nocc = frame.nocc
            orbitals = prediction.orbital_energies.numpy()
            lines += [f"### {molecule} frame {frame.frame}: HOMO {orbitals[nocc - 1]:.2f} eV "
                      f"(reference {frame.mo_target[nocc - 1]:.2f}), gap {orbitals[nocc] - orbitals[nocc - 1]:.2f} "
                      f"(reference {frame.homo_lumo_gap:.2f})", "",
                      "| block key | species | shells | lambda | largest, eV | RMS over pairs, eV | distance of worst pair, A |",
                      "|---|---|---|---:|---:|---:|---:|"]
            for largest, rms, key, distance in sorted(errors, key=lambda row: -row[0])[:top]:
                species = "-".join(str(z) for z in key.species)
                shells = ",".join(str(s) for s in key.shells)
                lines.append(f"| {key.kind} | {species} | {shells} | {key.lam} | {largest:.2f} | {rms:.2f} | "
                             f"{distance:.2f} |")
            lines.append("")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model", help="model file")
    parser.add_argument("db", help="ASE database with the frames (schema of shared/DATA.md)")
    parser.add_argument("--molecules", nargs="+", required=True, help="values of the 'molecule' key")
    parser.add_argument("--top", type=int, default=8, help="block keys listed per frame")
    parser.add_argument("--max-frames", type=int, default=None, help="first frames of each molecule (default all)")
    args = parser.parse_args(argv)
    print(block_error_table(args.model, args.db, args.molecules, args.top, args.max_frames))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
