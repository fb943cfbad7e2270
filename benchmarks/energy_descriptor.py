"""Which descriptor should feed the energy head: closed-form linear term, energy and force errors.

For each candidate energy descriptor (a preset's Hamiltonian descriptor,
``--preset``, by default ``lode``'s, with some settings replaced,
``name=value,...``), fits only the closed-form part of the energy head
(per-species offsets and the linear term on the standardised invariants,
``training.initialise.fit_energy_head``; the MLPs stay zero) to the training
energies and forces of a model file's split of the G2 pool, and prints energy
(meV/molecule) and force (eV/A per component) MAE on the training frames, the
held-out G2 test frames and the larger molecules. This is how the presets'
``energy_descriptor`` was chosen. One candidate on the full split takes
~10 minutes and a few GB (the invariant Jacobians are kept in memory).

    OMP_NUM_THREADS=1 python benchmarks/energy_descriptor.py ase_mlham/models/default.pt \\
        --candidates max_radial=4,max_angular=3 max_radial=6,max_angular=4 --regularisation 1e-9 1e-8
"""

from __future__ import annotations

import argparse
import dataclasses
import sys

from ase_mlham.descriptors.settings import DescriptorSettings
from ase_mlham.model.model import MLHamModel
from ase_mlham.model.settings import PRESETS
from ase_mlham.training.initialise import fit_energy_head
from energy_ridge import energy_inputs, errors
from g2_split import add_split_arguments, split_from_arguments


def _value(text: str) -> int | float | str:
    """A field value as written: an integer, else a number (Angstrom), else a word."""
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def candidate(text: str) -> dict[str, int | float | str]:
    """``"max_radial=6,gaussian_width=0.4"`` -> the ``DescriptorSettings`` fields to replace."""
    fields = {field.name for field in dataclasses.fields(DescriptorSettings)}
    try:
        pairs = dict(item.split("=") for item in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE,..., got {text!r}") from None
    replaced = {name: _value(value) for name, value in pairs.items()}
    unknown = sorted(set(replaced) - fields)
    if unknown:
        raise argparse.ArgumentTypeError(f"{', '.join(unknown)}: not DescriptorSettings fields")
    return replaced


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_split_arguments(parser, "a model file written by mlham train (its recorded split)")
    parser.add_argument("--candidates", type=candidate, nargs="+",
                        default=[{"max_radial": 4, "max_angular": 3}, {"max_radial": 6, "max_angular": 4}],
                        help="NAME=VALUE,... DescriptorSettings fields of an energy descriptor that differ from "
                             "the --preset's Hamiltonian descriptor")
    parser.add_argument("--preset", choices=sorted(PRESETS), default="lode",
                        help="the preset whose Hamiltonian descriptor the candidates modify (lode: species LODE "
                             "sources, as for README's table; neutral-lode: the shipped model's bond charges)")
    parser.add_argument("--regularisation", type=float, nargs="+", default=[1e-9, 1e-8])
    parser.add_argument("--stride", type=int, default=1, help="use every STRIDE-th training frame (quick looks)")
    args = parser.parse_args(argv)

    _, split, larger = split_from_arguments(parser, args)
    base = PRESETS[args.preset]
    print(f"linear term only, {len(split['train'][::args.stride])} training frames; "
          "MAE energy (meV/molecule) / forces (eV/A)")
    print(f"{'invariants':>10} {'regularisation':>15} {'train':>16} {'G2 test':>16} {'larger':>16}  candidate")
    for replaced in args.candidates:
        descriptor = dataclasses.replace(base.descriptor, **replaced)
        model = MLHamModel(dataclasses.replace(base, energy_descriptor=descriptor))
        label = ",".join(f"{name}={value}" for name, value in replaced.items())
        sets = [energy_inputs(model, frames) for frames in (split["train"][::args.stride], split["test"], larger)]
        for regularisation in args.regularisation:
            fit_energy_head(model, sets[0], regularisation)
            cells = [errors(model, items) for items in sets]
            print(f"{model.n_energy_invariants:>10} {regularisation:>15g} "
                  + " ".join(f"{e:>7.0f} / {f:>6.3f}" for e, f in cells) + f"  {label}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
