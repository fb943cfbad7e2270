"""Novelty of a structure in the Hamiltonian head's feature space, against its gap error (issue 22).

For every block key, the leverage of a block's scaled features ``x`` on the closed-form ridge fit of the
training frames, ``h = x^T (X^T X + lambda)^-1 x`` (``X^T X`` the ridge sums ``mlham train`` starts from;
lambda 1e-2 on-site, 1e-4 pairs, relative to the mean diagonal): large where the training blocks did
not span the features. Per frame: the largest leverage over all blocks, and the mean log leverage. Per
``--set``: Spearman's rank correlation of each with the model's |gap error| beside the committee's gap σ,
and, with a threshold at the ``--quantile`` of the ``--calibrate`` set's values, the share of frames
flagged and how many of those whose gap is more than ``--gap-error`` eV off.

    OMP_NUM_THREADS=1 python benchmarks/gap_novelty.py ase_mlham/models/default.pt \\
        --training ../shared/data/g2-b3lyp-def2tzvp.db runs/data/{al1-a,al1-b}.db \\
        --training-only runs/data/{g2x,g2xp,g2xq,motifs,alkanes,dimers-a,dimers-b,mol-train-v21,conformers-train}.db \\
        --calibrate held-out --set validation=runs/data/mol-validation.db
"""

from __future__ import annotations

import argparse
import warnings

import numpy as np
import torch
from scipy.stats import spearmanr

from ase_mlham.data.dataset import read_frames
from ase_mlham.evaluation import frame_ids, select_frames
from ase_mlham.model.blocks import block_samples
from ase_mlham.model.inputs import gather_group_inputs, unordered_pairs
from ase_mlham.model.io import load_model
from ase_mlham.training.committee import normal_equations
from ase_mlham.training.initialise import design_rows


def inverse_sums(equations, on_site: float = 1e-2, pairs: float = 1e-4) -> dict:
    """Per key, the inverse of the regularised ridge sums."""
    inverse = {}
    for key, gram in equations.gram.items():
        strength = (on_site if key.kind == "onsite" else pairs) * torch.diagonal(gram).mean()
        inverse[key] = torch.linalg.inv(gram + strength * torch.eye(len(gram), dtype=gram.dtype))
    return inverse


def leverages(model, inverse: dict, frame) -> np.ndarray:
    """The largest leverage of each block key present in ``frame`` (``inf`` for keys training never saw)."""
    with torch.no_grad():
        features = model.features(frame.numbers, torch.tensor(frame.positions))
        samples = block_samples(frame.numbers, unordered_pairs(features))
        groups = gather_group_inputs(features, samples)
    found = []
    for key in samples:
        if key not in inverse:
            found.append(np.inf)
            continue
        x = design_rows(model.hamiltonian_head, key, groups)
        found.append(float(((x @ inverse[key]) * x).sum(1).max()))
    return np.array(found)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("model")
    parser.add_argument("--training", nargs="+", required=True,
                        help="training databases (their frames less the model's held-out test frames)")
    parser.add_argument("--training-only", nargs="*", default=[], help="databases all of whose frames trained")
    parser.add_argument("--set", action="append", default=[], metavar="NAME=DB", help="all frames of DB")
    parser.add_argument("--calibrate", default="held-out",
                        help="set whose quantile is the threshold ('held-out': the model's test frames of --training)")
    parser.add_argument("--quantile", type=float, default=0.9)
    parser.add_argument("--gap-error", type=float, default=0.5)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    model = load_model(args.model)
    test = set((model.metadata.get("splits") or {}).get("test", []))
    training, sets = [], {}
    for path in args.training:
        frames = read_frames(path)
        training += [frame for frame, name in zip(frames, frame_ids(frames)) if name not in test]
        sets.setdefault("held-out", []).extend(select_frames(frames, list(test)))
    for path in args.training_only:
        training += read_frames(path)
    for entry in args.set:
        name, _, path = entry.partition("=")
        sets[name] = read_frames(path)
    inverse = inverse_sums(normal_equations(model, training))
    rows = {}
    for name, frames in sets.items():
        values = []
        for frame in frames:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                prediction = model.predict(frame.numbers, frame.positions, forces=False)
            found = leverages(model, inverse, frame)
            values.append((abs(float(prediction.homo_lumo_gap) - frame.homo_lumo_gap),
                           float(prediction.gap_uncertainty), found.max(), float(np.mean(np.log(np.maximum(found, 1e-300))))))
        rows[name] = np.array(values)
    print(f"{len(training)} training frames; Spearman with |gap error| (committee gap σ, max leverage, "
          f"mean log leverage), then a threshold at the {args.quantile:g} quantile of {args.calibrate}")
    calibration = rows[args.calibrate]
    for name, r in rows.items():
        rho = [spearmanr(r[:, 0], r[:, k])[0] for k in (1, 2, 3)]
        off = r[:, 0] > args.gap_error
        flags = []
        for k in (2, 3):
            flagged = r[:, k] > np.quantile(calibration[:, k], args.quantile)
            flags.append(f"{flagged.mean():.0%} flagged, {int(flagged[off].sum())} of {int(off.sum())} off")
        print(f"{name:>12} {len(r):4d} frames  rho {rho[0]:+.2f} {rho[1]:+.2f} {rho[2]:+.2f}   max: {flags[0]};"
              f"  mean log: {flags[1]}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
