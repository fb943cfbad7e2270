"""Which committee ranks the gap errors of molecules never trained on: ridge path or molecule bootstrap (issue 22).

The shipped committee (``training.committee``) perturbs the Hamiltonian head's linear weights by the
spread of closed-form fits along a ridge path. Its gap sigma does not rank the gap errors of validation
molecules frame by frame (Spearman 0.23 for v18). The errors on unseen molecules come from chemistry the
training molecules do not show, which a **bootstrap over training molecules** measures directly: member
m is the closed-form fit (ridge as ``mlham train``'s start: ``--regularisation`` on-site,
``--pair-regularisation`` for pairs) to the frames of a random ``--fraction`` of the training molecules,
minus the mean of the members' fits. A block that every subset pins agrees across members; one that a few
molecules inform moves with them (one that a single molecule shows does not: every subset holding it
fits the same sums).

For the model given, this script builds both committees on the same training frames, calibrates each on
the validation molecules (one scale for the gap, one for orbital energies, as ``mlham train`` does) and
prints, per committee: Spearman(sigma, |error|) of the gap and of the orbital energies, the 1 and 2 sigma
coverage of the gap, and the median gap sigma on the validation molecules and on ``--held-out`` frames of
training molecules (a committee that is as unsure there as on unseen molecules flags everything).
Calibrating and ranking on the same validation frames favours neither committee's Spearman (the scale
does not change a rank); the coverages are in-sample. The test split is never read here.

    OMP_NUM_THREADS=1 python benchmarks/committee_bootstrap.py ase_mlham/models/default.pt \\
        --train runs/split/v18-train.db runs/data/{g2x,g2xp,g2xq,motifs,alkanes,dimers-a,dimers-b,mol-train}.db \\
        --held-out runs/split/v18-test.db --validation runs/data/mol-validation.db --fraction 0.5 0.5 0.5 0.25

(``--fraction 0.5 0.5 0.5``: three bootstrap committees of different random subsets, seeds 0, 1, 2, to
show how much the ranking depends on the draw.)
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
from scipy.stats import spearmanr

from ase_mlham.data.dataset import read_frames
from ase_mlham.model.io import load_model
from ase_mlham.training.committee import (_validation_spreads, calibrate_committee, fit_bootstrap_members,
                                          fit_path_members, molecule_subsets, subset_normal_equations)


def ranking(model, validation, held_out) -> dict:
    """Calibrate on ``validation``, then the numbers this script prints."""
    calibrate_committee(model, validation)
    committee = model.committee
    rows = _validation_spreads(model, validation)
    gap_error = np.abs([r[2] for r in rows])
    gap_sigma = float(committee.gap_scale) * np.array([r[3] for r in rows])
    orbital_error = np.abs(np.concatenate([r[0] for r in rows]))
    orbital_sigma = float(committee.orbital_scale) * np.concatenate([r[1] for r in rows])
    held = float(committee.gap_scale) * np.array([r[3] for r in _validation_spreads(model, held_out)]) \
        if held_out else np.array([np.nan])
    return {"gap_spearman": spearmanr(gap_sigma, gap_error).statistic,
            "orbital_spearman": spearmanr(orbital_sigma, orbital_error).statistic,
            "gap_cover1": float(np.mean(gap_error <= gap_sigma)),
            "gap_cover2": float(np.mean(gap_error <= 2 * gap_sigma)),
            "median_sigma_validation": float(np.median(gap_sigma)), "median_sigma_held_out": float(np.median(held))}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("model")
    parser.add_argument("--train", nargs="+", required=True, help="the model's training databases")
    parser.add_argument("--validation", nargs="+", required=True, help="molecules never trained on")
    parser.add_argument("--held-out", nargs="*", default=[], help="held-out frames of training molecules")
    parser.add_argument("--fraction", type=float, nargs="+", default=[0.5])
    parser.add_argument("--regularisation", type=float, default=1e-2)
    parser.add_argument("--pair-regularisation", type=float, default=1e-4)
    parser.add_argument("--seed", type=int, default=0, help="of the first fraction's subsets (+1 for the next)")
    args = parser.parse_args(argv)

    model = load_model(args.model)
    model.eval()
    train = [frame for path in args.train for frame in read_frames(path)]
    validation = [frame for path in args.validation for frame in read_frames(path)]
    held_out = [frame for path in args.held_out for frame in read_frames(path)]
    molecules = sorted({frame.molecule for frame in train})
    print(f"{len(train)} training frames of {len(molecules)} molecules, {len(validation)} validation frames, "
          f"{len(held_out)} held-out frames")
    if model.committee is None:
        raise SystemExit("the model has no committee")
    n_members = model.committee.n_members
    start = time.perf_counter()
    subsets = [subset for i, fraction in enumerate(args.fraction)
               for subset in molecule_subsets(molecules, n_members, fraction, args.seed + i)]
    parts = subset_normal_equations(model, train, subsets + [set(molecules)])  # the last: the path's sums
    everything = parts.pop()
    print(f"ridge sums of {len(subsets)} subsets: {time.perf_counter() - start:.0f} s")

    results = {}
    fit_path_members(model, everything)
    results["ridge path (v16-v18)"] = ranking(model, validation, held_out)
    for i, fraction in enumerate(args.fraction):
        fit_bootstrap_members(model, parts[i * n_members:(i + 1) * n_members], args.regularisation,
                              args.pair_regularisation)
        name = f"bootstrap {n_members} x {fraction:.0%} of molecules, seed {args.seed + i}"
        results[name] = ranking(model, validation, held_out)
    print("\n| committee | gap Spearman | orbital Spearman | gap 1σ / 2σ coverage "
          "| median gap σ: validation / held-out (eV) |")
    print("|---|---:|---:|---:|---:|")
    for name, r in results.items():
        print(f"| {name} | {r['gap_spearman']:.2f} | {r['orbital_spearman']:.2f} | "
              f"{r['gap_cover1']:.0%} / {r['gap_cover2']:.0%} | "
              f"{r['median_sigma_validation']:.3f} / {r['median_sigma_held_out']:.3f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
