"""The HOMO-LUMO gap along the size series against B3LYP/def2-TZVP (issue 21: "the gap's change from the
smallest to the largest member within 0.3 eV of DFT's change for alkanes, polyenes and acenes").

The series database (data/series.db.xz: n-alkanes C10, C14, C18, all-trans polyenes C6, C12, C16,
anthracene and tetracene, one frame each at the GFN2-xTB minimum; evaluation only, never trained on)
gives the reference. Per member: B3LYP/def2-TZVP's gap, B3LYP/STO-3G's (stored in the row), GFN2-xTB's
and each model's; per series, each method's change from the smallest to the largest member present
beside DFT's, and whether it is within ``--tolerance`` of it. ``--plot`` draws gap against size.

    OMP_NUM_THREADS=1 python benchmarks/size_series.py runs/data/series.db ase_mlham/models/default.pt \\
        --plot runs/size-series.png
"""

from __future__ import annotations

import argparse
import re
import warnings
from pathlib import Path

import numpy as np

from gap_error_signals import xtb_gap

from ase_mlham.baselines import sto3g_orbital_energies
from ase_mlham.data.dataset import read_frames
from ase_mlham.model.io import load_model

#: Rings of the acenes a series database may hold.
ACENES = {"benzene": 1, "anthracene": 3, "tetracene": 4, "pentacene": 5}


def series_member(name: str) -> tuple[str, int] | None:
    """``("alkane", 14)`` for ``alkane-c14``, ``("acene", 3)`` for ``anthracene``; None for others."""
    match = re.fullmatch(r"(alkane|polyene)-c(\d+)", name)
    if match:
        return match.group(1), int(match.group(2))
    return ("acene", ACENES[name]) if name in ACENES else None


def sto3g_gap(frame) -> float:
    """B3LYP/STO-3G's HOMO-LUMO gap of a reference row, eV."""
    energies = sto3g_orbital_energies(frame)
    return float(energies[frame.nocc] - energies[frame.nocc - 1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("database", help="the size-series database (decompressed data/series.db.xz)")
    parser.add_argument("models", nargs="+", type=Path, help="model files")
    parser.add_argument("--tolerance", type=float, default=0.3, help="eV, on the change along a series")
    parser.add_argument("--plot", help="PNG of gap against size per series")
    args = parser.parse_args(argv)
    stems = [path.stem for path in args.models]  # short labels, the full path where two files share a name
    models = {(path.stem if stems.count(path.stem) == 1 else str(path)): load_model(path) for path in args.models}
    rows: dict[str, list[tuple[int, str, int, dict[str, float]]]] = {}
    for frame in read_frames(args.database):
        member = series_member(frame.molecule)
        if member is None:
            continue
        gaps = {"B3LYP/def2-TZVP": frame.homo_lumo_gap, "B3LYP/STO-3G": sto3g_gap(frame),
                "GFN2-xTB": xtb_gap(frame.numbers, frame.positions)}
        for name, model in models.items():
            with warnings.catch_warnings():  # the size warning is expected: these are larger than training
                warnings.simplefilter("ignore")
                gaps[name] = float(model.predict(frame.numbers, frame.positions, forces=False).homo_lumo_gap)
        rows.setdefault(member[0], []).append((member[1], frame.molecule, len(frame.numbers), gaps))
    if not rows:
        raise SystemExit(f"{args.database} holds no member of a size series")
    methods = list(next(iter(rows.values()))[0][3])
    print("HOMO-LUMO gap, eV")
    print(f"{'molecule':>12} {'atoms':>5} " + " ".join(f"{m[-16:]:>16}" for m in methods))
    for series in sorted(rows):
        rows[series].sort(key=lambda row: (row[0], row[1]))
        for _, molecule, n_atoms, gaps in rows[series]:
            print(f"{molecule:>12} {n_atoms:5d} " + " ".join(f"{gaps[m]:16.3f}" for m in methods))
    print(f"\nchange from the smallest to the largest member, eV (within {args.tolerance} eV of DFT's?)")
    for series in sorted(rows):
        members = rows[series]
        if len(members) < 2:
            print(f"{series:>12}: one member only ({members[0][1]})")
            continue
        first, last = members[0][3], members[-1][3]
        reference = last["B3LYP/def2-TZVP"] - first["B3LYP/def2-TZVP"]
        cells = []
        for method in methods:
            change = last[method] - first[method]
            mark = "" if method == "B3LYP/def2-TZVP" else (" ok" if abs(change - reference) <= args.tolerance else " no")
            cells.append(f"{method} {change:+.2f}{mark}")
        print(f"{series:>12} ({members[0][1]} -> {members[-1][1]}): " + ", ".join(cells))
    if args.plot:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, axes = plt.subplots(1, len(rows), figsize=(4 * len(rows), 3.5), squeeze=False)
        for axis, series in zip(axes[0], sorted(rows)):
            sizes = [size for size, *_ in rows[series]]
            for method in methods:
                axis.plot(sizes, [gaps[method] for *_, gaps in rows[series]], "o-", label=method,
                          color="black" if method == "B3LYP/def2-TZVP" else None)
            axis.set_xlabel("rings" if series == "acene" else "carbon atoms")
            axis.set_title(series)
        axes[0][0].set_ylabel("HOMO-LUMO gap (eV)")
        axes[0][-1].legend(fontsize=7)
        fig.tight_layout()
        fig.savefig(args.plot, dpi=120)
        print(f"wrote {args.plot}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
