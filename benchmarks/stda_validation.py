"""sTDA from minimal-basis Hamiltonians against TDA references, and its cost.

Part 1 (always): sTDA on the *exact* B3LYP/STO-3G Hamiltonian (the Löwdin-
orthogonalised PySCF Kohn-Sham matrix) against PySCF TDA-B3LYP/STO-3G, the same
orbitals with and without sTDA's approximations. Frames: G2 molecules at their
G2 geometries (PySCF is run here), or the frames of ``--db`` (a database written
by ``mlham generate --excitations N``: its stored STO-3G Fock, overlap and TDA).
"Orbital differences" is the uncoupled baseline: excitation energies
:math:`\\varepsilon_a - \\varepsilon_i` and strengths of the bare i->a transitions.

Part 2 (with ``--db``): against the large-basis TDA-B3LYP/def2-TZVP of the
database: (with ``--model``) sTDA on the ML Hamiltonian; sTDA on the *target*
Hamiltonian of indirect learning (the STO-3G orbitals with the lowest N_min
def2-TZVP MO energies as eigenvalues: what a perfect model predicts); sTDA on the
exact STO-3G Hamiltonian; TDA-B3LYP/STO-3G.

Part 3 (``--timing``): sTDA alone (benzene, C8H18, C16H34; 10 or 20 states; the
default CSF budget and every CSF), and the cost
of one calculator call (energy + forces) with and without 10 excitations, with
``--model`` or else the default architecture with random weights (same cost).

Errors are MAE (and mean signed error) in eV over frames, for S1 and for the
brightest of the lowest five states (largest oscillator strength), with the
median ratio of that state's oscillator strength to the reference's, and for
the brightest of the ten lowest (the main band, where the five lowest are all
dark, e.g. benzene).

    OMP_NUM_THREADS=1 python benchmarks/stda_validation.py
    OMP_NUM_THREADS=1 python benchmarks/stda_validation.py --db runs/excitations.db --model runs/model.pt --timing
    OMP_NUM_THREADS=1 python benchmarks/stda_validation.py --db runs/excitations.db --model runs/model.pt \
        --select-split data/molecules/excitations.smi test --per-frame     # the unseen molecules alone
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ase_mlham.basis import lowdin_transform
from ase_mlham.excitations import STDASettings, lowdin_dipole_integrals, stda_excitations
from ase_mlham.units import BOHR_TO_ANGSTROM, HARTREE_TO_EV

#: Small conjugated and carbonyl molecules of ase.collections.g2 (and a few others).
DEFAULT_MOLECULES = ("H2CO", "CH3CHO", "CH3COCH3", "OCHCHO", "H2CCO", "C2H4", "butadiene", "H2CCHCN",
                     "C4H4O", "C5H5N", "C6H6", "HCN", "H2O", "NH3", "CO")
N_LOWEST = 5


@dataclass
class Spectrum:
    """Lowest excitations of one frame: energies (eV) and oscillator strengths."""

    energies: np.ndarray
    strengths: np.ndarray

    @property
    def s1(self) -> float:
        return float(self.energies[0])

    @property
    def brightest(self) -> tuple[float, float]:
        """(energy, f) of the brightest of the lowest ``N_LOWEST`` states."""
        k = int(np.argmax(self.strengths[:N_LOWEST]))
        return float(self.energies[k]), float(self.strengths[k])

    @property
    def brightest_of_all(self) -> float:
        """Energy of the brightest of all computed states (10): the main band."""
        return float(self.energies[int(np.argmax(self.strengths))])


@dataclass
class Frame:
    name: str
    numbers: np.ndarray
    positions: np.ndarray  # Angstrom
    sto3g_hamiltonian: torch.Tensor  # Löwdin-orthogonal B3LYP/STO-3G Kohn-Sham matrix, eV
    sto3g_tda: Spectrum
    large_tda: Spectrum | None = None
    large_mo_energies: np.ndarray | None = None  # def2-TZVP MO energies, eV (the indirect-learning target)

    def target_hamiltonian(self) -> torch.Tensor:
        """STO-3G orbitals with the lowest N_min def2-TZVP MO energies: the H' a perfect model predicts."""
        _, coefficients = torch.linalg.eigh(self.sto3g_hamiltonian)
        energies = torch.tensor(self.large_mo_energies[:len(coefficients)])
        return (coefficients * energies) @ coefficients.T


def stda_spectrum(hamiltonian: torch.Tensor, frame: Frame, n_states: int = 10) -> Spectrum:
    positions = torch.tensor(frame.positions)
    energies, coefficients = torch.linalg.eigh(hamiltonian)
    nocc = int(frame.numbers.sum()) // 2
    result = stda_excitations(energies, coefficients, frame.numbers, positions, nocc, STDASettings(n_states=n_states))
    return Spectrum(result.energies.numpy(), result.oscillator_strengths.numpy())


def orbital_difference_spectrum(hamiltonian: torch.Tensor, frame: Frame, n_states: int = 10) -> Spectrum:
    """Uncoupled transitions: energies e_a - e_i, f = 2/3 (e_a - e_i) |sqrt2 <i|r|a>|^2 (atomic units)."""
    energies, coefficients = torch.linalg.eigh(hamiltonian)
    nocc = int(frame.numbers.sum()) // 2
    dipoles = lowdin_dipole_integrals(frame.numbers, torch.tensor(frame.positions))
    transition = torch.einsum("mi,xmn,na->iax", coefficients[:, :nocc], dipoles, coefficients[:, nocc:])
    gaps = (energies[nocc:][None, :] - energies[:nocc, None]).reshape(-1).numpy()
    squared = 2.0 * (transition**2).sum(-1).reshape(-1).numpy() / BOHR_TO_ANGSTROM**2
    order = np.argsort(gaps)[:n_states]
    return Spectrum(gaps[order], 2.0 / 3.0 * gaps[order] / HARTREE_TO_EV * squared[order])


def g2_frames(names) -> list[Frame]:
    """PySCF B3LYP/STO-3G and its TDA at the G2 geometries."""
    from ase.build import molecule

    from ase_mlham.data.reference import compute_excitations, minimal_basis_scf

    frames = []
    for name in names:
        atoms = molecule(name)
        mf = minimal_basis_scf(atoms)
        energies, strengths = compute_excitations(mf, 10, name)
        hamiltonian = lowdin_transform(torch.tensor(mf.get_fock()) * HARTREE_TO_EV, torch.tensor(mf.get_ovlp()))
        frames.append(Frame(name, atoms.numbers, atoms.positions, hamiltonian, Spectrum(energies, strengths)))
    return frames


def database_frames(path: Path, molecules: list[str] | None = None) -> list[Frame]:
    """Frames of a database with stored TDA excitations (``mlham generate --excitations N``); with
    ``molecules``, only theirs."""
    from ase.db import connect

    frames = []
    for row in connect(str(path)).select():
        data = row.data
        if "sto3g_tda_energies" not in data or (molecules is not None and row.molecule not in molecules):
            continue
        hamiltonian = lowdin_transform(torch.tensor(data["sto3g_fock"]), torch.tensor(data["sto3g_overlap"]))
        large = Spectrum(np.asarray(data["tda_energies"]), np.asarray(data["tda_oscillator_strengths"]))
        frames.append(Frame(f"{row.molecule}/{row.frame}", row.numbers, row.positions, hamiltonian,
                            Spectrum(np.asarray(data["sto3g_tda_energies"]),
                                     np.asarray(data["sto3g_tda_oscillator_strengths"])), large,
                            np.asarray(data["mo_energies"])))
    if not frames:
        raise ValueError(f"{path} holds no frames with excitations (write them with mlham generate --excitations N)")
    return frames


def error_row(label: str, predictions: list[Spectrum], references: list[Spectrum]) -> str:
    s1 = np.array([p.s1 - r.s1 for p, r in zip(predictions, references)])
    bright = np.array([p.brightest[0] - r.brightest[0] for p, r in zip(predictions, references)])
    ratio = np.array([p.brightest[1] / max(r.brightest[1], 1e-12) for p, r in zip(predictions, references)])
    band = np.array([p.brightest_of_all - r.brightest_of_all for p, r in zip(predictions, references)])
    return (f"| {label} | {np.abs(s1).mean():.2f} | {s1.mean():+.2f} | {np.abs(bright).mean():.2f} | "
            f"{bright.mean():+.2f} | {np.median(ratio):.2f} | {np.abs(band).mean():.2f} |")


def error_table(title: str, reference_label: str, rows: dict[str, list[Spectrum]], references: list[Spectrum]) -> str:
    lines = [f"### {title} ({len(references)} frames, vs {reference_label})", "",
             "| method | S1 MAE | S1 MSE | brightest-of-5 MAE | brightest-of-5 MSE | its f ratio (median) "
             "| brightest-of-10 MAE |",
             "|---|---:|---:|---:|---:|---:|---:|"]
    lines += [error_row(label, spectra, references) for label, spectra in rows.items()]
    return "\n".join(lines)


def frame_table(frames: list[Frame], rows: dict[str, list[Spectrum]], reference: str) -> str:
    names = list(rows)
    header = "| frame | " + " | ".join(f"{n}: S1 / bright (f)" for n in names) + " |"
    lines = [f"Per frame, eV (reference: {names[0]} = {reference}):", "", header, "|---|" + "---:|" * len(names)]
    for k, frame in enumerate(frames):
        cells = [f"{rows[n][k].s1:.2f} / {rows[n][k].brightest[0]:.2f} ({rows[n][k].brightest[1]:.2f})"
                 for n in names]
        lines.append(f"| {frame.name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def model_spectra(model_path: str, frames: list[Frame]) -> list[Spectrum]:
    from ase_mlham.model.io import load_model

    model = load_model(model_path).requires_grad_(False)
    spectra = []
    for frame in frames:
        prediction = model.predict(frame.numbers, frame.positions, forces=False)
        spectra.append(stda_spectrum(prediction.hamiltonian.double(), frame))
    return spectra


def alkane(n_carbon: int):
    """A zigzag n-alkane C_nH_{2n+2} (3n+2 atoms)."""
    from ase import Atoms

    symbols, positions = [], []
    for k in range(n_carbon):
        x, y = 1.26 * k, 0.43 * (-1) ** k
        symbols += ["C", "H", "H"]
        positions += [[x, y, 0.0], [x, y + 0.63 * (-1) ** k, 0.89], [x, y + 0.63 * (-1) ** k, -0.89]]
    symbols += ["H", "H"]
    positions += [[-1.0, 0.43, 0.0], [1.26 * (n_carbon - 1) + 1.0, 0.43 * (-1) ** (n_carbon - 1), 0.0]]
    return Atoms(symbols, positions)


def sto3g_hamiltonian(atoms) -> torch.Tensor:
    """The Löwdin-orthogonal B3LYP/STO-3G Kohn-Sham matrix of ``atoms`` (PySCF), eV."""
    from ase_mlham.data.reference import minimal_basis_scf

    mf = minimal_basis_scf(atoms, conv_tol=1e-8)
    return lowdin_transform(torch.tensor(mf.get_fock()) * HARTREE_TO_EV, torch.tensor(mf.get_ovlp()))


def median_time(function, repeats: int = 7) -> float:
    function()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def timing(model_path: str | None, repeats: int = 15) -> str:
    from ase.build import molecule

    from ase_mlham.calculator import MLHamCalculator
    from ase_mlham.model.model import MLHamModel
    from ase_mlham.model.settings import DEFAULT_PRESET, PRESETS
    from ase_mlham.model.testing import randomise

    # random weights of the default architecture cost what a trained default model costs
    model = model_path if model_path else randomise(MLHamModel(PRESETS[DEFAULT_PRESET]))
    label = model_path or "default architecture, random weights"
    lines = [f"### Cost ({label}, {torch.get_num_threads()} thread(s), medians)", ""]
    big = alkane(16)
    lines += ["| sTDA alone, exact B3LYP/STO-3G H' | atoms | states | CSFs (default budget) | ms | "
              "every CSF: CSFs, ms |", "|---|---:|---:|---:|---:|---:|"]
    for name, atoms, n_states in (("benzene", molecule("C6H6"), 10), ("C8H18", alkane(8), 20),
                                  ("C16H34", big, 10), ("C16H34", big, 20)):
        # exact STO-3G orbitals: a physical orbital spectrum (a random model's is not)
        energies, coefficients = torch.linalg.eigh(sto3g_hamiltonian(atoms))
        positions, nocc = torch.tensor(atoms.positions), int(atoms.numbers.sum()) // 2
        cells = []
        for settings in (STDASettings(n_states=n_states), STDASettings(n_states=n_states, csfs_per_state=None)):
            result = stda_excitations(energies, coefficients, atoms.numbers, positions, nocc, settings)
            seconds = median_time(lambda: stda_excitations(energies, coefficients, atoms.numbers, positions, nocc,
                                                           settings), repeats=5)
            cells.append((result.n_primary + result.n_secondary, seconds * 1e3))
        (budget_csfs, budget_ms), (all_csfs, all_ms) = cells
        lines.append(f"| {name} | {len(atoms)} | {n_states} | {budget_csfs} | {budget_ms:.0f} | "
                     f"{all_csfs}, {all_ms:.0f} |")
    lines += ["", "| molecule | atoms | energy + forces (ms) | + 10 sTDA excitations (ms) | ratio |",
              "|---|---:|---:|---:|---:|"]
    for name, atoms in (("H2CO", molecule("H2CO")), ("butadiene", molecule("butadiene")),
                        ("C6H6", molecule("C6H6")), ("C8H18", alkane(8)), ("C16H34", big)):
        systems = []
        for n_excitations in (0, 10):
            system = atoms.copy()
            system.calc = MLHamCalculator(model, n_excitations=n_excitations)
            system.get_forces()
            systems.append(system)
        times = [[], []]
        for _ in range(repeats):  # interleaved, so that a busy machine slows both alike
            for system, samples in zip(systems, times):
                system.positions[0, 0] += 1e-4  # a new geometry per call, as in MD
                start = time.perf_counter()
                system.get_forces()
                samples.append(time.perf_counter() - start)
        costs = [float(np.median(samples)) for samples in times]
        lines.append(f"| {name} | {len(atoms)} | {costs[0] * 1e3:.0f} | {costs[1] * 1e3:.0f} | "
                     f"{costs[1] / costs[0]:.2f} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("molecules", nargs="*", default=list(DEFAULT_MOLECULES),
                        help="G2 molecules for part 1 when no --db is given")
    parser.add_argument("--db", type=Path, help="database written by mlham generate --excitations N")
    parser.add_argument("--model", help="model file: adds sTDA on the ML Hamiltonian to part 2; timed in part 3")
    parser.add_argument("--timing", action="store_true", help="part 3: cost of sTDA and of calculator calls")
    parser.add_argument("--per-frame", action="store_true", help="also print every frame")
    parser.add_argument("--select", nargs="+", metavar="NAME", help="with --db: only these molecules' frames")
    parser.add_argument("--select-split", nargs=2, metavar=("LIST", "SPLIT"),
                        help="with --db: only the molecules of SPLIT in the molecule list LIST "
                             "(e.g. data/molecules/excitations.smi test: the unseen molecules)")
    args = parser.parse_args(argv)
    if (args.select or args.select_split) and not args.db:
        parser.error("--select and --select-split choose frames of --db")

    selected = list(args.select or [])
    if args.select_split:
        from ase_mlham.data.molecules import read_molecule_list

        selected += [name for _, name in read_molecule_list(args.select_split[0], split=args.select_split[1])]
    frames = (database_frames(args.db, selected if (args.select or args.select_split) else None) if args.db
              else g2_frames(args.molecules))
    source = str(args.db) if args.db else "G2 geometries"
    reference = [frame.sto3g_tda for frame in frames]
    exact_stda = [stda_spectrum(f.sto3g_hamiltonian, f) for f in frames]  # compared in both parts
    rows = {"TDA-B3LYP/STO-3G": reference,
            "sTDA on exact B3LYP/STO-3G H'": exact_stda,
            "orbital differences, STO-3G": [orbital_difference_spectrum(f.sto3g_hamiltonian, f) for f in frames]}
    print(error_table(f"Part 1: same orbitals, {source}", "TDA-B3LYP/STO-3G",
                      {k: v for k, v in rows.items() if k != "TDA-B3LYP/STO-3G"}, reference))
    if args.per_frame:
        print()
        print(frame_table(frames, rows, "TDA-B3LYP/STO-3G"))

    if args.db:
        large = [frame.large_tda for frame in frames]
        rows = {"TDA-B3LYP/def2-TZVP": large}
        if args.model:
            rows["sTDA on ML H' (" + Path(args.model).name + ")"] = model_spectra(args.model, frames)
        rows.update({"sTDA on the target H' (STO-3G orbitals, def2-TZVP energies)":
                     [stda_spectrum(f.target_hamiltonian(), f) for f in frames],
                     "orbital differences of the target H'":
                     [orbital_difference_spectrum(f.target_hamiltonian(), f) for f in frames],
                     "sTDA on exact B3LYP/STO-3G H'": exact_stda,
                     "TDA-B3LYP/STO-3G": reference})
        print()
        print(error_table(f"Part 2: against the large basis, {source}", "TDA-B3LYP/def2-TZVP",
                          {k: v for k, v in rows.items() if k != "TDA-B3LYP/def2-TZVP"}, large))
        if args.per_frame:
            print()
            print(frame_table(frames, rows, "TDA-B3LYP/def2-TZVP"))
    if args.timing:
        print()
        print(timing(args.model))
    return 0


if __name__ == "__main__":
    sys.exit(main())
