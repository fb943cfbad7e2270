"""What the committee of Hamiltonians adds to an MD step (issue 22: at most 20 % for energy, forces and
orbital energies with their uncertainties).

Per molecule, in one process and one thread, interleaved so that a busy machine slows both alike: the
model's Hamiltonian part (``MLHamModel.electronic``: H', its eigenvalues and, with the committee, the
members' eigenvalues and the uncertainties) with and without the committee, and the whole prediction
without it (energy, forces with the GFN2-xTB baseline, H', eigenvalues: a step without uncertainties);
medians over ``--repeats`` calls after one warm-up, at the same geometry. ``extra`` is the committee's
time over that step.

    OMP_NUM_THREADS=1 python benchmarks/committee_cost.py
    OMP_NUM_THREADS=1 python benchmarks/committee_cost.py --model runs/model.pt --sizes 21 101 --repeats 20
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from speed import MOLECULES, structure  # the same molecules as speed.py


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default=None, help="model file (default: the shipped one)")
    parser.add_argument("--sizes", type=int, nargs="+", default=[9, 21, 50, 101], choices=sorted(MOLECULES))
    parser.add_argument("--repeats", type=int, default=10)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    from ase_mlham.calculator import DEFAULT_MODEL_PATH
    from ase_mlham.model.io import load_model

    model = load_model(args.model or DEFAULT_MODEL_PATH)
    committee = model.committee
    if committee is None:
        raise SystemExit("this model has no committee of Hamiltonians")
    print(f"{'atoms':>5} {'H part, committee ms':>20} {'H part, none ms':>15} {'step, none ms':>13} {'extra':>6}")
    for n_atoms in args.sizes:
        atoms = structure(n_atoms)
        positions = torch.tensor(atoms.positions)
        times: dict[str, list[float]] = {"with": [], "without": [], "step": []}
        for _ in range(args.repeats + 1):
            for label, members in (("with", committee), ("without", None)):
                model.committee = members
                start = time.perf_counter()
                model.electronic(atoms.numbers, positions)
                times[label].append(time.perf_counter() - start)
            model.committee = None
            start = time.perf_counter()
            model.predict(atoms.numbers, positions)
            times["step"].append(time.perf_counter() - start)
        model.committee = committee
        ms = {label: 1000 * statistics.median(values[1:]) for label, values in times.items()}
        print(f"{n_atoms:5d} {ms['with']:20.1f} {ms['without']:15.1f} {ms['step']:13.1f} "
              f"{(ms['with'] - ms['without']) / ms['step']:6.0%}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
