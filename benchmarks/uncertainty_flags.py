"""How often the default uncertainty thresholds flag frames, and the frames whose gap is badly off (issue 22).

For every frame, an ``MLHamCalculator`` with its default thresholds (those stored in the model) computes
energy, forces and gap; a frame is flagged "by gap" when ``calc.uncertainty_crossings()`` names the gap,
"by any" when it names any quantity (what a user sees as an ``UncertaintyWarning``). Per set: the share of frames flagged, and of the frames whose gap error
exceeds ``--gap-error`` (eV), the share flagged and the number that no threshold flags ("silent": a
badly-off gap the user is not warned of).

    OMP_NUM_THREADS=1 python benchmarks/uncertainty_flags.py ase_mlham/models/default.pt \\
        --held-out ../shared/data/g2-b3lyp-def2tzvp.db --set validation=runs/data/mol-validation.db \\
        --set test=runs/data/mol-test.db

``--held-out`` databases contribute only the model's test frames (``splits.test`` of its metadata).
With ``--training DB... --quantiles Q...`` it also sweeps a threshold rule: every threshold at the same
quantile of the training frames' uncertainties, and per set the share flagged by any threshold and the
badly-off frames none flags (the two things issue 22's bars trade against each other).
"""

from __future__ import annotations

import argparse
import warnings

import numpy as np

from ase_mlham.calculator import MLHamCalculator
from ase_mlham.data.dataset import read_frames
from ase_mlham.evaluation import frame_ids, select_frames
from ase_mlham.model.io import load_model
from ase_mlham.model.model import MLHamModel
from ase_mlham.training.calibration import prediction_uncertainties, uncertainty_values


def flags(calculator: MLHamCalculator, frames) -> list[tuple[float, set[str]]]:
    """``(|gap error| eV, the quantities whose threshold the frame crossed)`` per frame."""
    rows = []
    for frame in frames:
        atoms = frame.to_atoms()
        atoms.calc = calculator
        with warnings.catch_warnings():  # the crossings are counted here, not printed
            warnings.simplefilter("ignore")
            atoms.get_forces()
            gap = calculator.get_property("homo_lumo_gap", atoms)
            calculator.get_property("gap_uncertainty", atoms)
        crossed = {crossing.split()[0] for crossing in calculator.uncertainty_crossings()}
        rows.append((abs(gap - frame.homo_lumo_gap), crossed))
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("model")
    parser.add_argument("--held-out", nargs="*", default=[], help="databases whose model test frames to use")
    parser.add_argument("--set", action="append", default=[], metavar="NAME=DB", help="all frames of DB")
    parser.add_argument("--gap-error", type=float, default=0.5, help="eV: a frame's gap is badly off above this")
    parser.add_argument("--training", nargs="+", metavar="DB",
                        help="with --quantiles: the training databases whose frames (less the model's held-out "
                             "test frames) set the thresholds")
    parser.add_argument("--quantiles", type=float, nargs="+", metavar="Q",
                        help="also the flags with every threshold at this quantile of the training frames' "
                             "uncertainties (the default thresholds are the 0.95 quantile of a 100-frame sample)")
    args = parser.parse_args(argv)
    if bool(args.quantiles) != bool(args.training):
        parser.error("--quantiles and --training go together")
    model = load_model(args.model)
    calculator = MLHamCalculator(model, n_excitations=0)
    print("default thresholds: " + ", ".join(f"{k} {v:.3g}" for k, v in calculator.uncertainty_threshold.items())
          + " (eV, eV/A)")
    sets = {}
    if args.held_out:
        test = model.metadata.get("splits", {}).get("test", [])
        sets["held-out"] = [f for path in args.held_out for f in select_frames(read_frames(path), test)]
    for entry in args.set:
        name, _, path = entry.partition("=")
        sets[name] = read_frames(path)
    print(f"{'set':>12} {'frames':>6} {'by gap':>7} {'by any':>7} {'gap off':>8} {'by gap':>7} {'by any':>7}"
          f" {'silent':>7}")
    for name, frames in sets.items():
        rows = flags(calculator, frames)
        bad = [crossed for error, crossed in rows if error > args.gap_error]

        def share(items, key):
            return np.mean([bool(c) if key == "any" else key in c for c in items]) if items else float("nan")

        every = [crossed for _, crossed in rows]
        print(f"{name:>12} {len(rows):6d} {share(every, 'gap'):7.0%} {share(every, 'any'):7.0%}"
              f" {len(bad):8d} {share(bad, 'gap'):7.0%} {share(bad, 'any'):7.0%} {sum(not c for c in bad):7d}")
    if args.quantiles:
        quantile_sweep(model, args, sets)
    return 0


def quantile_sweep(model: MLHamModel, args: argparse.Namespace, sets: dict[str, list]) -> None:
    """The trade-off a threshold rule chooses: per quantile, the share of each set flagged by any threshold
    and the badly-off frames left unflagged ("silent")."""
    test = set((model.metadata.get("splits") or {}).get("test", []))
    training = []
    for path in args.training:
        frames = read_frames(path)
        training += [frame for frame, name in zip(frames, frame_ids(frames)) if name not in test]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        reference = {name: np.asarray(found) for name, found in uncertainty_values(model, training).items() if found}
        values, errors = {}, {}
        for name, frames in sets.items():  # one prediction per frame gives both its σ and its gap error
            predictions = [model.predict(f.numbers, f.positions, forces=False) for f in frames]
            found = [prediction_uncertainties(p) for p in predictions]
            values[name] = {key: np.array([f[key] for f in found]) for key in reference}
            errors[name] = np.array([abs(float(p.homo_lumo_gap) - f.homo_lumo_gap)
                                     for p, f in zip(predictions, frames)])
    print(f"\nthresholds at a common quantile of the {len(training)} training frames' uncertainties:")
    print(f"{'quantile':>8} {'thresholds (energy, forces, gap)':>34} " + " ".join(
        f"{name[:10] + ' any/silent':>24}" for name in sets))
    for q in args.quantiles:
        thresholds = {key: float(np.quantile(found, q)) for key, found in reference.items()}
        cells = []
        for name in sets:
            flagged = np.zeros(len(errors[name]), dtype=bool)
            for key, threshold in thresholds.items():
                flagged |= values[name][key] > threshold
            off = errors[name] > args.gap_error
            cells.append(f"{flagged.mean():>13.0%} {int((off & ~flagged).sum()):3d} of {int(off.sum()):3d}")
        print(f"{q:8.3f} {', '.join(f'{thresholds[k]:.3g}' for k in thresholds):>34} " + " ".join(cells))


if __name__ == "__main__":
    raise SystemExit(main())
