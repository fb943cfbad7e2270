"""Cost of one MD step of the shipped model, part by part, beside tblite GFN2-xTB energy + forces (issue 24).

Each (molecule, threads) runs in a fresh process (``OMP_NUM_THREADS`` and ``torch.set_num_threads`` set
before anything is imported). Per step, the mean over ``--repeats`` steps after one warm-up step, each at
a new geometry (atoms displaced by 0.01 A rms):

* ``features``: both descriptors (Hamiltonian and energy), no gradients, the pair features in the parts
  ``MLHamModel.electronic`` computes them in;
* ``E+F``: the learned energy and its forces (autograd; the energy descriptor included);
* ``H'+eig``: H', its eigenvalues and the committee's (Hamiltonian descriptor included);
* ``xTB base``: the GFN2-xTB baseline of the energy (tblite at the model's SCC accuracy, restarted from the
  previous step's wavefunction, as the calculator does);
* ``sTDA``: one eigendecomposition and 10 sTDA states;
* ``ML part`` = E+F + H'+eig (the model without its baseline); ``step`` and ``step+exc``: a whole
  ``MLHamCalculator`` step (``get_forces`` and the gap; then with 10 excitations);
* ``tblite``: tblite GFN2-xTB energy + forces at its default settings (accuracy 1), same geometries.

Ratios are against ``tblite`` of the same run. ``peak MB``: the process's peak resident memory during the
whole steps (``step`` and ``step+exc``, each with only its own calculator alive, on one loaded model; the
kernel's high-water mark is reset before each, Linux), what an MD run of that molecule needs.
``first call`` (once, 1 thread): seconds in a fresh process
from ``MLHamCalculator()`` to aspirin's first energy, forces and gap (import time reported beside).

    python benchmarks/speed.py                      # 9, 21, 50, 101, 302 and 1001 atoms, 1 and 2 threads
    python benchmarks/speed.py --sizes 9 21 --threads 1 --repeats 5 --json runs/speed.json
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

#: Molecules by atom count: ethanol, aspirin, then linear alkanes C_n H_2n+2 (16, 33, 100, 333 carbons).
MOLECULES = {9: "smiles:CCO", 21: "smiles:CC(=O)Oc1ccccc1C(=O)O", 50: 16, 101: 33, 302: 100, 1001: 333}


def alkane(n_carbons: int):
    """An all-trans n-alkane (C-C 1.53 A, C-H 1.09 A, tetrahedral angles), as ASE Atoms."""
    import numpy as np
    from ase import Atoms

    half = np.radians(109.47 / 2)
    step = np.array([1.53 * np.sin(half), 1.53 * np.cos(half), 0.0])
    symbols, positions = [], []
    for i in range(n_carbons):
        carbon = np.array([i * step[0], (i % 2) * step[1], 0.0])
        symbols.append("C")
        positions.append(carbon)
        outward = -1.0 if i % 2 == 0 else 1.0  # away from the chain's zigzag
        for z in (-1.0, 1.0):
            direction = np.array([0.0, outward * np.cos(np.radians(54.75)), z * np.sin(np.radians(54.75))])
            symbols.append("H")
            positions.append(carbon + 1.09 * direction)
        if i in (0, n_carbons - 1):
            symbols.append("H")
            positions.append(carbon + np.array([(-1.0 if i == 0 else 1.0) * 1.09, 0.0, 0.0]))
    return Atoms(symbols, positions=positions)


def structure(size: int):
    spec = MOLECULES[size]
    if isinstance(spec, int):
        return alkane(spec)
    from ase_mlham.data.molecules import resolve_structure

    return resolve_structure(spec, seed=0).atoms


def reset_peak_memory() -> None:
    """Reset the kernel's high-water mark of this process's resident memory (``VmHWM``; Linux >= 4.0)."""
    with open("/proc/self/clear_refs", "w") as handle:
        handle.write("5")


def memory_mb(key: str = "VmHWM") -> float:
    """This process's ``key`` line of ``/proc/self/status`` in MB: ``VmHWM`` the peak resident memory since
    the last :func:`reset_peak_memory`, ``VmRSS`` the resident memory now."""
    with open("/proc/self/status") as handle:
        line = next(line for line in handle if line.startswith(f"{key}:"))
    return int(line.split()[1]) / 1024


def _timed(function, geometries) -> float:
    """Mean seconds of ``function(positions)`` over ``geometries[1:]`` (``geometries[0]`` warms up)."""
    function(geometries[0])
    start = time.perf_counter()
    for positions in geometries[1:]:
        function(positions)
    return (time.perf_counter() - start) / (len(geometries) - 1)


def worker(size: int, threads: int, repeats: int) -> dict:
    """One molecule in this process: the table row (seconds per step) and peak memory."""

    import numpy as np
    import torch

    torch.set_num_threads(threads)
    from tblite.interface import Calculator

    from ase_mlham.calculator import MLHamCalculator
    from ase_mlham.electronic import number_of_occupied_orbitals, solve_orbitals
    from ase_mlham.excitations import stda_excitations
    from ase_mlham.excitations.parameters import STDASettings
    from ase_mlham.model.baseline import XTBBaseline
    from ase_mlham.model.model import PAIRS_PER_PART
    from ase_mlham.units import BOHR_TO_ANGSTROM

    atoms = structure(size)
    numbers = atoms.numbers
    rng = np.random.default_rng(0)
    geometries = [atoms.positions + rng.normal(scale=0.01, size=atoms.positions.shape) for _ in range(repeats + 1)]
    calculator = MLHamCalculator(n_excitations=0)
    model = calculator.model
    row = {"atoms": len(atoms), "formula": atoms.get_chemical_formula(), "threads": threads}

    def features(positions):
        with torch.no_grad():
            tensor = torch.tensor(positions)
            for _ in model.descriptor.parts(numbers, tensor, PAIRS_PER_PART):
                pass
            model.energy_features(numbers, tensor)

    def energy_forces(positions):
        tensor = torch.tensor(positions, requires_grad=True)
        total = model.learned_energy(numbers, tensor)["atomic_energies"].sum()
        torch.autograd.grad(total, tensor)

    def electronic(positions):
        model.electronic(numbers, torch.tensor(positions))

    baseline = XTBBaseline(model.settings.energy_baseline, model.settings.baseline_accuracy) \
        if model.settings.energy_baseline else None

    hamiltonian = model.electronic(numbers, torch.tensor(atoms.positions))["hamiltonian"]
    nocc = number_of_occupied_orbitals(numbers)

    def excitations(positions):
        orbitals = solve_orbitals(hamiltonian, nocc)
        stda_excitations(orbitals.energies, orbitals.coefficients, numbers, torch.tensor(positions), nocc,
                         STDASettings(n_states=10))

    def step(calc):
        def run(positions):
            atoms.positions = positions
            atoms.calc = calc
            atoms.get_forces()
            calc.get_property("homo_lumo_gap", atoms)
            if calc.n_excitations:
                calc.get_property("excitation_energies", atoms)
        return run

    def tblite(positions):
        xtb = Calculator("GFN2-xTB", numbers, positions / BOHR_TO_ANGSTROM)
        xtb.set("verbosity", 0)
        xtb.singlepoint()

    row["features"] = _timed(features, geometries)
    row["E+F"] = _timed(energy_forces, geometries)
    row["H'+eig"] = _timed(electronic, geometries)
    row["xTB base"] = _timed(lambda p: baseline(numbers, p), geometries) if baseline else 0.0
    row["sTDA"] = _timed(excitations, geometries)
    row["ML part"] = row["E+F"] + row["H'+eig"]
    # the peak memory of an MD run: one calculator alive, nothing left from the parts timed above (the
    # baseline's tblite state and H' of a 1001-atom molecule are ~0.3 GB)
    baseline = hamiltonian = None
    reset_peak_memory()
    row["step"] = _timed(step(calculator), geometries)
    peak = memory_mb()
    calculator = None
    with_excitations = MLHamCalculator(model, n_excitations=10)  # the same model object, not a second copy
    reset_peak_memory()
    row["step+exc"] = _timed(step(with_excitations), geometries)
    row["peak_MB"] = max(peak, memory_mb())
    with_excitations = None
    row["tblite"] = _timed(tblite, geometries)
    return row


def first_call() -> dict:
    """Seconds to import the calculator, and from ``MLHamCalculator()`` to aspirin's first result."""
    start = time.perf_counter()
    from ase_mlham.calculator import MLHamCalculator

    imported = time.perf_counter()
    atoms = structure(21)
    built = time.perf_counter()
    atoms.calc = MLHamCalculator(n_excitations=0)
    atoms.get_forces()
    atoms.calc.get_property("homo_lumo_gap", atoms)
    done = time.perf_counter()
    return {"import_s": imported - start, "first_result_s": done - built}


def _spawn(arguments: list[str], threads: int) -> dict:
    environment = {**os.environ, "OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads),
                   "OPENBLAS_NUM_THREADS": str(threads)}
    result = subprocess.run([sys.executable, __file__, *arguments], capture_output=True, text=True,
                            env=environment, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"worker {arguments} failed:\n{result.stderr[-3000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


COLUMNS = ("features", "E+F", "H'+eig", "xTB base", "sTDA", "ML part", "step", "step+exc", "tblite")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=sorted(MOLECULES), choices=sorted(MOLECULES),
                        help="molecules by atom count")
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--repeats", type=int, default=3, help="timed steps per part (after one warm-up)")
    parser.add_argument("--json", help="also write the rows here")
    parser.add_argument("--worker", nargs=3, type=int, metavar=("SIZE", "THREADS", "REPEATS"), help=argparse.SUPPRESS)
    parser.add_argument("--first-call", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        print(json.dumps(worker(*args.worker)))
        return 0
    if args.first_call:
        print(json.dumps(first_call()))
        return 0

    rows = []
    print("ms per MD step (mean of --repeats steps); ratios against tblite GFN2-xTB E+F of the same run")
    print(f"{'atoms':>6} {'thr':>3} " + " ".join(f"{c:>9}" for c in COLUMNS)
          + f" {'ML/xTB':>7} {'step/xTB':>8} {'exc/step':>8} {'peak MB':>8}")
    for threads in args.threads:
        for size in args.sizes:
            row = _spawn(["--worker", str(size), str(threads), str(args.repeats)], threads)
            rows.append(row)
            print(f"{row['atoms']:>6} {threads:>3} " + " ".join(f"{1000 * row[c]:9.1f}" for c in COLUMNS)
                  + f" {row['ML part'] / row['tblite']:7.2f} {row['step'] / row['tblite']:8.2f}"
                  f" {row['step+exc'] / row['step']:8.2f} {row['peak_MB']:8.0f}", flush=True)
    first = _spawn(["--first-call"], 1)
    print(f"first call (fresh process, 1 thread): import {first['import_s']:.2f} s, MLHamCalculator() to "
          f"aspirin's first energy, forces and gap {first['first_result_s']:.2f} s")
    if args.json:
        with open(args.json, "w") as handle:
            json.dump({"rows": rows, "first_call": first, "command": " ".join(["python", *sys.argv])}, handle, indent=1)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
