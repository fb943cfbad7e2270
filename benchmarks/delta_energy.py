"""The GFN2-xTB + learned correction energy: regularisation and damping, measured on validation molecules.

Fits the closed-form energy correction of a preset (``training.initialise.fit_energy_head``) to the
training frames' B3LYP-D4 minus GFN2-xTB energies and forces for several ridge regularisations,
calibrates its uncertainty and damping on the validation molecules (``training.calibration``), and
prints, per regularisation, energy (meV/atom) and force (eV/A) MAE on

* held-out frames of the training molecules (``--held-out``, e.g. a model's test frames),
* the validation molecules (never trained on; they choose the damping width, so their numbers with
  damping are optimistic),
* ``--visible`` molecules (reported beside, chose nothing),

for the undamped correction, the damped one, and GFN2-xTB alone (with per-element offsets fitted
alone to the training frames). The test split of the data issue is never read here.

    OMP_NUM_THREADS=1 python benchmarks/delta_energy.py --train runs/g2-train.db ... \\
        --validation runs/mol-validation.db --held-out runs/g2-test.db --visible ../shared/data/larger-b3lyp-def2tzvp.db
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import sys
import time

import numpy as np
import torch

from ase_mlham.data.dataset import read_frames
from ase_mlham.model.model import MLHamModel
from ase_mlham.model.settings import PRESETS
from ase_mlham.training.calibration import calibrate_energy_head, head_energy_forces
from ase_mlham.training.initialise import fit_energy_head
from ase_mlham.training.prepare import frame_inputs, invariant_jacobian
from ase_mlham.training.run import familiar_sample
from ase_mlham.training.targets import BaselineCache, DEFAULT_CACHE


def inputs(model, paths, cache, label):
    frames = [frame for path in paths for frame in read_frames(path)]
    start = time.perf_counter()
    items = []
    for frame in frames:
        item = frame_inputs(model, frame, cache, hamiltonian=False)
        item.jacobian = invariant_jacobian(model, item)
        items.append(item)
    print(f"{label}: {len(items)} frames of {len({f.molecule for f in frames})} molecules "
          f"({time.perf_counter() - start:.0f} s)", file=sys.stderr)
    return items


def element_offsets(items, n_species):
    """Per-element offsets (eV) fitted alone to the training targets (least squares on composition):
    with them, GFN2-xTB alone is on the reference's energy scale."""
    counts = np.array([np.bincount(item.species_index.numpy(), minlength=n_species) for item in items], dtype=float)
    targets = np.array([item.energy for item in items])
    return np.linalg.lstsq(counts, targets, rcond=None)[0]


def errors(model, items, offsets=None):
    """Energy MAE (meV/atom), force MAE (eV/A) of the correction (or, with ``offsets``, of xTB alone)."""
    energy_errors, force_errors = [], []
    for item in items:
        if offsets is not None:
            energy, forces = float(offsets[item.species_index.numpy()].sum()), torch.zeros(len(item.species_index), 3)
        else:
            energy, forces = head_energy_forces(model, item)
        energy_errors.append(abs(energy - item.energy) / len(item.species_index))
        force_errors.append(np.abs(forces.numpy() - item.forces).ravel())
    return 1000 * float(np.mean(energy_errors)), float(np.concatenate(force_errors).mean())


def worst_force_ratio(model, items):
    """Largest per-molecule ratio of the model's force MAE to xTB's, and its molecule."""
    by_molecule = {}
    for item in items:
        _, forces = head_energy_forces(model, item)
        model_error = np.abs(forces.numpy() - item.forces).mean()
        xtb_error = np.abs(item.forces).mean()
        errors_of = by_molecule.setdefault(item.frame.molecule, [[], []])
        errors_of[0].append(model_error)
        errors_of[1].append(xtb_error)
    ratios = {name: np.mean(m) / np.mean(x) for name, (m, x) in by_molecule.items()}
    name = max(ratios, key=ratios.get)
    return ratios[name], float(np.median(list(ratios.values()))), name


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--train", nargs="+", required=True, help="training databases")
    parser.add_argument("--validation", nargs="+", required=True, help="validation molecules' databases")
    parser.add_argument("--held-out", nargs="*", default=[], help="held-out frames of training molecules")
    parser.add_argument("--visible", nargs="*", default=[], help="other molecules, reported beside")
    parser.add_argument("--preset", default="delta-xtb")
    parser.add_argument("--energy-descriptor", nargs="*", default=[], metavar="NAME=VALUE",
                        help="changes to the preset's energy descriptor, e.g. max_radial=6 lode=True")
    parser.add_argument("--regularisation", type=float, nargs="+", default=[1e-6, 1e-4, 1e-3, 1e-2])
    parser.add_argument("--energy-weight", type=float, nargs="+", default=[1.0],
                        help="closed-form fit weights of the energies (TrainingSettings.energy_fit_weight)")
    parser.add_argument("--baseline-cache", default=str(DEFAULT_CACHE))
    args = parser.parse_args(argv)

    settings = PRESETS[args.preset]
    changes = {}
    for change in args.energy_descriptor:
        name, value = change.split("=", 1)
        field_type = type(getattr(settings.energy_descriptor, name))
        changes[name] = value == "True" if field_type is bool else field_type(value)
    if changes:
        settings = dataclasses.replace(settings, energy_descriptor=dataclasses.replace(settings.energy_descriptor,
                                                                                        **changes))
    torch.manual_seed(0)
    model = MLHamModel(settings)
    cache = BaselineCache(args.baseline_cache)
    train = inputs(model, args.train, cache, "train")
    sets = {"validation": inputs(model, args.validation, cache, "validation")}
    if args.held_out:
        sets["held-out"] = inputs(model, args.held_out, cache, "held-out")
    if args.visible:
        sets["visible"] = inputs(model, args.visible, cache, "visible")
    print(f"{args.preset} {changes or ''}: {model.n_energy_invariants} invariants, {len(train)} training frames; "
          "MAE energy meV/atom / forces eV/A")
    header = f"{'regularisation':>14} {'E weight':>8} {'tau eV':>7} " + " ".join(
        f"{name + ' ' + kind:>24}" for name in sets for kind in ("undamped", "damped", "xTB"))
    print(header + f" {'val worst/median F ratio':>28}")
    offsets = element_offsets(train, len(model.species))
    for regularisation, weight in [(r, w) for r in args.regularisation for w in args.energy_weight]:
        fit_energy_head(model, train, regularisation, energy_weight=weight)
        calibration = calibrate_energy_head(model, sets["validation"], familiar_sample(train, 0))
        width = calibration["damping_width_eV"]
        cells = []
        for items in sets.values():
            model.energy_head.damping_width.fill_(math.inf)
            undamped = errors(model, items)
            model.energy_head.damping_width.fill_(width)
            cells += [undamped, errors(model, items), errors(model, items, offsets)]
        worst, median, name = worst_force_ratio(model, sets["validation"])
        print(f"{regularisation:>14g} {weight:>8g} {width:>7g} " + " ".join(f"{e:>13.1f} / {f:>7.3f}" for e, f in cells)
              + f" {worst:>8.2f} ({name}) / {median:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
