"""How much of the B3LYP/def2-TZVP valence orbital energies a GFN2-xTB Hamiltonian with a few fitted numbers
already carries, on molecules never trained on (issue 21, diagnosis part 1: "a physical starting point for H'").

For every frame, tblite's self-consistent GFN2-xTB Kohn-Sham matrix ``F = S C diag(eps) C^T S`` and overlap ``S``
(valence minimal basis: H 1s; C, N, O 2s 2p, so its ``N_min - n_heavy`` orbitals map one to one onto the
valence and virtual orbitals of the reference window). Corrections, each fitted on the training frames only
(closed form or L-BFGS on the mean squared error of all valence-window orbital energies, eV):

* ``xTB``: the raw eigenvalues (nothing fitted);
* ``xTB affine``: ``a eps + b``, separately for occupied and virtual orbitals (4 numbers);
* ``xTB + shells``: ``F + (D S + S D) / 2`` with one level shift per element and shell (H s; C, N, O s and p:
  7 numbers), a global scale and a virtual-orbital shift (scissor): 9 numbers.

Side by side: the eigenvalues of B3LYP/STO-3G stored in every row, and the model given with ``--model``.
Errors (eV) on the validation molecules, per molecule and overall; the training frames' own errors too
(without the model's: those are its training errors).

    OMP_NUM_THREADS=1 python benchmarks/hamiltonian_baselines.py --model ase_mlham/models/default.pt \\
        --training ../shared/data/g2-b3lyp-def2tzvp.db runs/data/*.db runs/mol-train.db \\
        --validation runs/mol-validation.db --json runs/hamiltonian-baselines.json

``--training`` frames listed in the model's test split (``splits.test`` of its metadata) are left out.
"""

from __future__ import annotations

import argparse
import json
import sys
import time

import numpy as np
import torch

from ase_mlham.data.dataset import ReferenceFrame, read_frames
from ase_mlham.evaluation import frame_ids
from ase_mlham.metrics import ErrorAccumulator, number_of_core_orbitals
from ase_mlham.units import BOHR_TO_ANGSTROM, HARTREE_TO_EV

#: Level-shift parameters of the ``xTB + shells`` correction: (atomic number, angular momentum).
SHELLS = ((1, 0), (6, 0), (6, 1), (7, 0), (7, 1), (8, 0), (8, 1))


class XTBFrame:
    """The GFN2-xTB matrices of one reference frame, reduced to what the fits need.

    ``base``: ``(n, n)`` ``L^-1 F L^-T`` in eV (``S = L L^T``), whose eigenvalues are xTB's orbital energies;
    ``shifts``: ``(len(SHELLS), n, n)`` ``L^-1 (P S + S P) L^-T / 2`` per shell type (``P`` the projector on
    its AOs); ``target``: ``(n,)`` the reference valence-window energies (eV); ``nocc``: occupied valence.
    """

    def __init__(self, frame: ReferenceFrame) -> None:
        from tblite.interface import Calculator

        calculator = Calculator("GFN2-xTB", np.asarray(frame.numbers, dtype=int),
                                np.asarray(frame.positions) / BOHR_TO_ANGSTROM)
        calculator.set("verbosity", 0)
        calculator.set("save-integrals", 1)
        result = calculator.singlepoint()
        overlap = np.asarray(result.get("overlap-matrix"))
        coefficients = np.asarray(result.get("orbital-coefficients"))
        energies = np.asarray(result.get("orbital-energies")) * HARTREE_TO_EV
        fock = overlap @ coefficients @ np.diag(energies) @ coefficients.T @ overlap
        shell_atom = np.asarray(calculator.get("shell-map"))
        shell_l = np.asarray(calculator.get("angular-momenta"))
        ao_shell = np.asarray(calculator.get("orbital-map"))
        ao_type = [(int(frame.numbers[shell_atom[s]]), int(shell_l[s])) for s in ao_shell]
        inverse = np.linalg.inv(np.linalg.cholesky(overlap))
        self.base = torch.tensor(inverse @ fock @ inverse.T)
        self.base = (self.base + self.base.T) / 2
        shifts = []
        for shell in SHELLS:
            projector = np.diag([1.0 if t == shell else 0.0 for t in ao_type])
            shifts.append(inverse @ (projector @ overlap + overlap @ projector) @ inverse.T / 2)
        self.shifts = torch.tensor(np.array(shifts))
        n_core = number_of_core_orbitals(frame.numbers)
        self.nocc = frame.nocc - n_core
        self.target = np.asarray(frame.mo_target[n_core:], dtype=float)
        if len(self.target) != len(energies):
            raise ValueError(f"{frame.molecule}/{frame.frame}: {len(energies)} xTB orbitals for a valence window "
                             f"of {len(self.target)}")
        self.xtb = np.sort(energies)


def shell_eigenvalues(frame: XTBFrame, parameters: torch.Tensor) -> torch.Tensor:
    """``(n,)`` eigenvalues of the ``xTB + shells`` correction; ``parameters``: 7 shifts, scale, scissor (eV)."""
    matrix = frame.base + torch.einsum("t,tij->ij", parameters[:len(SHELLS)], frame.shifts)
    values = parameters[len(SHELLS)] * torch.linalg.eigvalsh(matrix)
    scissor = torch.zeros_like(values)
    scissor[frame.nocc:] = parameters[len(SHELLS) + 1]
    return values + scissor


def fit_shells(frames: list[XTBFrame]) -> torch.Tensor:
    """L-BFGS fit of :func:`shell_eigenvalues`'s 9 numbers to the training frames (mean squared error)."""
    parameters = torch.zeros(len(SHELLS) + 2, dtype=torch.float64)
    parameters[len(SHELLS)] = 1.0
    parameters.requires_grad_(True)
    targets = [torch.tensor(f.target) for f in frames]
    count = sum(len(t) for t in targets)
    optimiser = torch.optim.LBFGS([parameters], lr=1.0, max_iter=200, tolerance_grad=1e-10,
                                  line_search_fn="strong_wolfe")

    def closure():
        optimiser.zero_grad()
        loss = sum(((shell_eigenvalues(f, parameters) - t) ** 2).sum() for f, t in zip(frames, targets)) / count
        loss.backward()
        return loss

    optimiser.step(closure)
    return parameters.detach()


def fit_affine(frames: list[XTBFrame]) -> dict[str, np.ndarray]:
    """Least-squares ``a eps + b`` for occupied and for virtual orbitals."""
    fits = {}
    for part in ("occupied", "virtual"):
        x = np.concatenate([f.xtb[:f.nocc] if part == "occupied" else f.xtb[f.nocc:] for f in frames])
        y = np.concatenate([f.target[:f.nocc] if part == "occupied" else f.target[f.nocc:] for f in frames])
        fits[part] = np.linalg.lstsq(np.stack([x, np.ones_like(x)], axis=1), y, rcond=None)[0]
    return fits


def affine_eigenvalues(frame: XTBFrame, fits: dict[str, np.ndarray]) -> np.ndarray:
    (a_occ, b_occ), (a_virt, b_virt) = fits["occupied"], fits["virtual"]
    return np.concatenate([a_occ * frame.xtb[:frame.nocc] + b_occ, a_virt * frame.xtb[frame.nocc:] + b_virt])


def add_valence(accumulator: ErrorAccumulator, predicted: np.ndarray, frame: ReferenceFrame) -> None:
    """Add a valence-window prediction ``(n_min - n_core,)`` eV to ``accumulator`` (core orbitals: NaN)."""
    core = np.full(number_of_core_orbitals(frame.numbers), np.nan)
    accumulator.add_orbitals(np.concatenate([core, predicted]), frame.mo_target, frame.numbers, frame.nocc)


def load(paths: list[str], exclude: set[str]) -> list[ReferenceFrame]:
    frames = []
    for path in paths:
        loaded = read_frames(path)
        frames += [f for f, name in zip(loaded, frame_ids(loaded)) if name not in exclude]
    return frames


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--training", nargs="+", required=True, help="databases of training frames")
    parser.add_argument("--validation", nargs="+", required=True, help="databases of molecules never trained on")
    parser.add_argument("--model", help="an ase-mlham model to compare (its test frames leave --training)")
    parser.add_argument("--json", help="write the tables here")
    args = parser.parse_args(argv)

    model, exclude = None, set()
    if args.model:
        from ase_mlham.model.io import load_model

        model = load_model(args.model)
        exclude = set(model.metadata.get("splits", {}).get("test", []))
    start = time.perf_counter()
    training_frames = load(args.training, exclude)
    validation_frames = load(args.validation, set())
    training = [XTBFrame(f) for f in training_frames]
    validation = [XTBFrame(f) for f in validation_frames]
    print(f"{len(training)} training frames ({len({f.molecule for f in training_frames})} molecules), "
          f"{len(validation)} validation frames ({len({f.molecule for f in validation_frames})} molecules); "
          f"xTB matrices in {time.perf_counter() - start:.0f} s")

    shells = fit_shells(training)
    affine = fit_affine(training)
    print("xTB + shells: shifts (eV) " + ", ".join(f"Z={z} l={l}: {v:+.3f}" for (z, l), v in zip(SHELLS, shells))
          + f"; scale {shells[len(SHELLS)]:.4f}; virtual shift {shells[len(SHELLS) + 1]:+.3f} eV")
    print("xTB affine: " + "; ".join(f"{part} {a:.4f} eps {b:+.3f}" for part, (a, b) in affine.items()))

    def predictions(frame: ReferenceFrame, xtb: XTBFrame, with_model: bool) -> dict[str, np.ndarray]:
        n_core = number_of_core_orbitals(frame.numbers)
        methods = {
            "xTB": xtb.xtb,
            "xTB affine": affine_eigenvalues(xtb, affine),
            "xTB + shells": shell_eigenvalues(xtb, shells).numpy(),
            "B3LYP/STO-3G": np.asarray(frame.sto3g_mo_energies)[n_core:],
        }
        if model is not None and with_model:
            methods["model"] = model.predict(frame.numbers, frame.positions).orbital_energies.numpy()[n_core:frame.n_min]
        return methods

    groups = ("gap", "occupied_valence", "virtual", "homo", "lumo")
    report = {}
    for label, frames, xtbs in (("training", training_frames, training), ("validation", validation_frames, validation)):
        overall: dict[str, ErrorAccumulator] = {}
        by_molecule: dict[str, dict[str, ErrorAccumulator]] = {}
        for frame, xtb in zip(frames, xtbs):
            for method, predicted in predictions(frame, xtb, label == "validation").items():
                add_valence(overall.setdefault(method, ErrorAccumulator(method)), predicted, frame)
                add_valence(by_molecule.setdefault(frame.molecule, {}).setdefault(method, ErrorAccumulator(method)),
                            predicted, frame)
        methods = list(overall)
        mae = {m: {g: stats.mae for g, stats in overall[m].summary().items()} for m in methods}
        molecules = {name: {m: {g: stats.mae for g, stats in accumulator.summary().items()}
                            for m, accumulator in by_method.items()} for name, by_method in by_molecule.items()}
        print(f"\n{label}: MAE (eV) over {len(frames)} frames")
        print(f"{'group':>18} " + " ".join(f"{m:>13}" for m in methods))
        for group in groups:
            print(f"{group:>18} " + " ".join(f"{mae[m][group]:13.3f}" for m in methods))
        report[label] = {m: {g: float(mae[m][g]) for g in groups} for m in methods}
        if label == "validation":
            for group in ("gap", "occupied_valence"):
                print(f"\nvalidation, {group} MAE (eV) per molecule")
                print(f"{'molecule':>22} " + " ".join(f"{m:>13}" for m in methods))
                for name in sorted(molecules):
                    print(f"{name:>22} " + " ".join(f"{molecules[name][m][group]:13.3f}" for m in methods))
                worst = {m: max(molecules[n][m][group] for n in molecules) for m in methods}
                print(f"{'worst molecule':>22} " + " ".join(f"{worst[m]:13.3f}" for m in methods))
            report["validation_per_molecule"] = {
                name: {m: {g: float(v[g]) for g in groups} for m, v in by_method.items()}
                for name, by_method in molecules.items()}
    report["parameters"] = {"shells": {f"Z={z} l={l}": float(v) for (z, l), v in zip(SHELLS, shells)},
                            "scale": float(shells[len(SHELLS)]), "virtual_shift": float(shells[len(SHELLS) + 1]),
                            "affine": {k: v.tolist() for k, v in affine.items()}}
    report["command"] = " ".join(["python", *sys.argv])
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(report, handle, indent=1)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
