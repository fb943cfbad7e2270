"""Physics-only baselines against the B3LYP/def2-TZVP orbital window.

For each database prints the error table of B3LYP/STO-3G (stored eigenvalues)
and GFN2-xTB (tblite, aligned as in :mod:`ase_mlham.baselines`) and tblite's
wall time per molecule (calculator construction + singlepoint).

    python benchmarks/baselines.py                      # shared G2 pool and larger set
    python benchmarks/baselines.py DB.db --max-frames 100 --plot-dir out/ --json out/baselines.json
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from ase_mlham.baselines import align_xtb_to_window, sto3g_orbital_energies, xtb_orbital_energies
from ase_mlham.data.dataset import read_frames
from ase_mlham.metrics import ErrorAccumulator, format_table, parity_plot, table_dict

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
DEFAULT_DATABASES = [SHARED_DATA / "g2-b3lyp-def2tzvp.db", SHARED_DATA / "larger-b3lyp-def2tzvp.db"]


def evaluate_baselines(db_path: Path, max_frames: int | None = None, xtb_method: str = "GFN2-xTB") -> dict:
    """Accumulators of both baselines and tblite timings on the frames of ``db_path``."""
    frames = read_frames(db_path)
    if max_frames is not None and len(frames) > max_frames:
        chosen = np.random.default_rng(0).choice(len(frames), max_frames, replace=False)
        frames = [frames[i] for i in sorted(chosen)]
    sto3g = ErrorAccumulator("B3LYP/STO-3G")
    xtb = ErrorAccumulator(xtb_method)
    timings, n_atoms, failures = [], [], []
    # warm-up: the first tblite call pays the library's one-off start-up
    xtb_orbital_energies(frames[0].numbers, frames[0].positions, method=xtb_method)
    for frame in frames:
        sto3g.add_orbitals(sto3g_orbital_energies(frame), frame.mo_target, frame.numbers, frame.nocc)
        start = time.perf_counter()
        try:
            energies, xtb_nocc = xtb_orbital_energies(frame.numbers, frame.positions, method=xtb_method)
        except Exception as error:  # an SCC failure is reported, not hidden
            failures.append(f"{frame.molecule}/{frame.frame}: {error}")
            continue
        timings.append(time.perf_counter() - start)
        n_atoms.append(len(frame.numbers))
        xtb.add_orbitals(align_xtb_to_window(energies, xtb_nocc, frame.numbers, frame.nocc, frame.n_min),
                         frame.mo_target, frame.numbers, frame.nocc)
        # total energies: neither baseline is on the def2-TZVP scale -> not added (n/a)
    return {"frames": frames, "methods": {sto3g.name: sto3g, xtb.name: xtb},
            "timings": np.array(timings), "n_atoms": np.array(n_atoms), "failures": failures}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("databases", nargs="*", type=Path, default=DEFAULT_DATABASES,
                        help="reference databases (default: the shared G2 pool and the larger set)")
    parser.add_argument("--max-frames", type=int, default=None, help="random subset of frames per database")
    parser.add_argument("--xtb-method", default="GFN2-xTB")
    parser.add_argument("--plot-dir", type=Path, default=None, help="write a parity plot PNG per database here")
    parser.add_argument("--json", type=Path, default=None, help="write all tables as JSON here")
    args = parser.parse_args(argv)

    report = {}
    for db_path in args.databases:
        result = evaluate_baselines(db_path, args.max_frames, args.xtb_method)
        frames, timings, n_atoms = result["frames"], result["timings"], result["n_atoms"]
        title = (f"{db_path.name}: {len(frames)} frames, {len({f.molecule for f in frames})} molecules; "
                 "errors vs B3LYP/def2-TZVP (orbital energies in eV)")
        print(format_table(result["methods"], title=title))
        print(f"tblite {args.xtb_method}: {1e3 * timings.mean():.2f} ms/molecule mean, "
              f"{1e3 * np.median(timings):.2f} ms median, {1e3 * timings.max():.2f} ms max "
              f"({n_atoms.min()}-{n_atoms.max()} atoms, {len(timings)} calls after one warm-up)")
        if result["failures"]:
            print(f"{len(result['failures'])} xTB failures:", *result["failures"], sep="\n  ")
        print()
        report[db_path.name] = {**table_dict(result["methods"]), "n_frames": len(frames),
                                "xtb_ms_per_molecule": 1e3 * float(timings.mean())}
        if args.plot_dir is not None:
            args.plot_dir.mkdir(parents=True, exist_ok=True)
            parity_plot(result["methods"], args.plot_dir / f"baselines-{db_path.stem}.png", title=db_path.name)
    if args.json is not None:
        args.json.write_text(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
