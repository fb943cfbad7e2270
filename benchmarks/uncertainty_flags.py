"""How often the default uncertainty thresholds flag frames, and the frames whose gap is badly off (issue 22).

For every frame, ``model.predict`` with forces: flagged "by gap" when the gap σ passes its threshold, "by any"
when the gap, energy or largest per-atom force σ passes its own (the thresholds stored in the model, which
``MLHamCalculator`` uses by default). Per set: the share of frames flagged, and of the frames whose gap error
exceeds ``--gap-error`` (eV), the share flagged.

    OMP_NUM_THREADS=1 python benchmarks/uncertainty_flags.py ase_mlham/models/default.pt \\
        --held-out ../shared/data/g2-b3lyp-def2tzvp.db --set validation=runs/data/mol-validation.db \\
        --set test=runs/data/mol-test.db

``--held-out`` databases contribute only the model's test frames (``splits.test`` of its metadata).
"""

from __future__ import annotations

import argparse

import numpy as np

from ase_mlham.data.dataset import read_frames
from ase_mlham.evaluation import select_frames
from ase_mlham.model.io import load_model


def flags(model, frames, thresholds: dict[str, float]) -> list[tuple[float, dict[str, bool]]]:
    """``(|gap error| eV, {quantity: flagged})`` per frame."""
    rows = []
    for frame in frames:
        prediction = model.predict(frame.numbers, frame.positions, forces=True)
        energies, nocc = prediction.orbital_energies.numpy(), frame.nocc
        error = abs((energies[nocc] - energies[nocc - 1]) - frame.homo_lumo_gap)
        rows.append((error, {"gap": float(prediction.gap_uncertainty) > thresholds["gap"],
                             "energy": float(prediction.energy_uncertainty) > thresholds["energy"],
                             "forces": float(prediction.forces_uncertainty.max()) > thresholds["forces"]}))
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("model")
    parser.add_argument("--held-out", nargs="*", default=[], help="databases whose model test frames to use")
    parser.add_argument("--set", action="append", default=[], metavar="NAME=DB", help="all frames of DB")
    parser.add_argument("--gap-error", type=float, default=0.5, help="eV: a frame's gap is badly off above this")
    args = parser.parse_args(argv)
    model = load_model(args.model)
    thresholds = model.metadata["uncertainty_thresholds"]
    print("default thresholds: " + ", ".join(f"{k} {v:.3g}" for k, v in thresholds.items()) + " (eV, eV/A)")
    sets = {}
    if args.held_out:
        test = model.metadata.get("splits", {}).get("test", [])
        sets["held-out"] = [f for path in args.held_out for f in select_frames(read_frames(path), test)]
    for entry in args.set:
        name, _, path = entry.partition("=")
        sets[name] = read_frames(path)
    print(f"{'set':>12} {'frames':>6} {'by gap':>7} {'by any':>7} {'gap off':>8} {'by gap':>7} {'by any':>7}")
    for name, frames in sets.items():
        rows = flags(model, frames, thresholds)
        bad = [f for error, f in rows if error > args.gap_error]

        def share(items, key):
            return np.mean([any(f.values()) if key == "any" else f[key] for f in items]) if items else float("nan")

        print(f"{name:>12} {len(rows):6d} {share([f for _, f in rows], 'gap'):7.0%} {share([f for _, f in rows], 'any'):7.0%}"
              f" {len(bad):8d} {share(bad, 'gap'):7.0%} {share(bad, 'any'):7.0%}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
