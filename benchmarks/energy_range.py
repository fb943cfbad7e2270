"""Conformer energies against the range and regularisation of the learned energy correction (issue 20).

The correction on GFN2-xTB is a linear function of local invariants within the energy descriptor's
cutoff (4 A in ``delta-xtb``). Conformers of one molecule differ in torsions, i.e. in distances
between atoms three or more bonds apart (2.5-4 A), so a correction that sees those distances adds its
own errors to xTB's conformer energies; one that sees only bonded and geminal neighbours cannot. For each
``--cutoffs`` x ``--ridges`` variant this fits the energy head in closed form on a given Hamiltonian
(``mlham train --hamiltonian-from``: the same data, damping calibrated on the validation molecules) and
prints the validation molecules' energy and force MAE at the chosen damping width beside the conformer
energy differences of ``--conformers`` databases (``benchmarks/conformers.py``) and GFN2-xTB's:

    OMP_NUM_THREADS=1 python benchmarks/energy_range.py --hamiltonian-from runs/v18h.pt --out runs/energy-range \\
        --cutoffs 4.0 3.0 2.5 --ridges 0.1 \\
        --conformers runs/data/conformers-validation.db runs/data/torsion-validation.db \\
        --train ../shared/data/g2-b3lyp-def2tzvp.db runs/data/al1-a.db runs/data/al1-b.db \\
        --training-only runs/data/{g2x,g2xp,g2xq,motifs,alkanes,dimers-a,dimers-b,mol-train}.db \\
        --validation runs/data/mol-validation.db --baseline-cache runs/baseline.sqlite

Select on validation conformers only; conformers of test-split molecules are for the final report.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from conformers import difference_errors, relative_energies

from ase_mlham.model.io import load_model
from ase_mlham.model.settings import DEFAULT_PRESET, PRESETS, with_energy_range
from ase_mlham.training.run import train_from_databases
from ase_mlham.training.targets import BaselineCache
from ase_mlham.training.trainer import TrainingSettings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--hamiltonian-from", required=True, help="model file whose Hamiltonian head is kept")
    parser.add_argument("--train", nargs="+", required=True, help="databases as `mlham train` DB ...")
    parser.add_argument("--training-only", nargs="*", default=[])
    parser.add_argument("--validation", nargs="+", required=True, help="validation-molecule databases")
    parser.add_argument("--conformers", nargs="+", required=True, help="conformer (and torsion) databases")
    parser.add_argument("--cutoffs", type=float, nargs="+", default=[4.0, 3.0, 2.5], help="energy cutoffs, A")
    parser.add_argument("--widths", type=float, nargs="+", default=[0.5],
                        help="widths of the cosine switch below each cutoff, A (a wide one weighs the far neighbours "
                             "down smoothly instead of dropping them)")
    parser.add_argument("--ridges", type=float, nargs="+", default=[0.1], help="energy ridge regularisations")
    parser.add_argument("--baseline-cache", help="GFN2-xTB cache of `mlham train --baseline-cache`")
    parser.add_argument("--out", type=Path, required=True, help="folder for the variants' model files")
    args = parser.parse_args(argv)

    args.out.mkdir(parents=True, exist_ok=True)
    preset = PRESETS[DEFAULT_PRESET]
    cache = BaselineCache(args.baseline_cache)
    models, rows = [], []
    variants = [(cutoff, width, ridge) for cutoff in args.cutoffs for width in args.widths for ridge in args.ridges]
    for cutoff, width, ridge in variants:
        # the default width keeps the names of the files written before --widths existed
        path = args.out / (f"cutoff{cutoff:g}-ridge{ridge:g}.pt" if width == 0.5
                           else f"cutoff{cutoff:g}-width{width:g}-ridge{ridge:g}.pt")
        if not path.exists():  # resumable: a variant already fitted is kept
            settings = with_energy_range(preset, cutoff, width)  # what mlham train --energy-cutoff/-switch-width set
            train_from_databases(args.train, path, settings, TrainingSettings(energy_ridge_regularisation=ridge),
                                 training_only=args.training_only, validation_databases=args.validation,
                                 hamiltonian_from=args.hamiltonian_from, baseline_cache=cache,
                                 show_progress=False)
        models.append(load_model(path))
        calibration = models[-1].metadata["energy_calibration"]
        chosen = next(row for row in calibration["damping_widths"]
                      if row["damping_width_eV"] == calibration["damping_width_eV"])
        rows.append((cutoff, width, ridge, calibration["damping_width_eV"], 1000 * chosen["energy_mae_eV_per_atom"],
                     chosen["forces_mae_eV_per_A"]))
    errors, _ = difference_errors(relative_energies(args.conformers, models))
    print(f"{len(errors)} conformer energy differences; validation molecules at the chosen damping width")
    print(f"{'cutoff A':>8} {'width A':>7} {'ridge':>7} {'damping eV':>10} {'val meV/atom':>12} {'val F eV/A':>10} "
          f"{'conf MAE':>8} {'conf max':>8}  (kcal/mol)")
    for k, (cutoff, width, ridge, damping, energy, forces) in enumerate(rows):
        print(f"{cutoff:8.2f} {width:7.2f} {ridge:7.3g} {damping:10.3g} {energy:12.1f} {forces:10.3f} "
              f"{errors[:, k + 1].mean():8.2f} {errors[:, k + 1].max():8.2f}")
    print(f"{'GFN2-xTB alone':>60} {errors[:, 0].mean():8.2f} {errors[:, 0].max():8.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
