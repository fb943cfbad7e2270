"""Rank Hamiltonian-head candidates by their closed-form start, on molecules never trained on (issue 21).

Training a Hamiltonian head takes an hour or more; its closed-form start (``mlham train``'s first step:
feature scales, gates, then a ridge fit of every block to the training frames' "adjusted" minimal-basis
Hamiltonian, ``training.initialise``) takes minutes. This script builds that start for several
descriptor variants of a preset (``--variant NAME=VALUE,...`` changes the Hamiltonian descriptor; the
first variant is the preset unchanged) and ridge regularisations (``--pair-regularisation``: of the pair
blocks alone), and prints the gap and occupied-valence MAE (eV) of its eigenvalues on held-out frames of
the training molecules (``--held-out``, with the C/N/O 1s core MAE) and on whole molecules never trained
on (``--validation``). The test split of the data issue is never read here.

    OMP_NUM_THREADS=1 python benchmarks/hamiltonian_ridge.py \\
        --train runs/split/v12-train.db runs/data/{g2x,g2xp,g2xq,motifs,alkanes,dimers-a,dimers-b,mol-train}.db \\
        --held-out runs/split/v12-test.db --validation runs/data/mol-validation.db \\
        --variant pair_cutoff=3.5 --regularisation 1e-6 1e-3 --pair-regularisation 1e-6 1e-2
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import time

import torch

from ase_mlham.data.dataset import read_frames
from ase_mlham.metrics import ErrorAccumulator
from ase_mlham.model.blocks import assemble, block_layout
from ase_mlham.model.settings import PRESETS
from ase_mlham.training.initialise import fit_feature_scales, fit_gates, ridge_initialise
from ase_mlham.training.run import build_model, prepare_inputs


def parse_variant(text: str, descriptor) -> dict:
    """``"pair_cutoff=3.5,max_radial=6"`` -> typed changes of the descriptor settings."""
    changes = {}
    for item in filter(None, text.split(",")):
        name, _, value = item.partition("=")
        if not hasattr(descriptor, name):
            raise ValueError(f"the descriptor settings have no field {name!r}")
        kind = type(getattr(descriptor, name))
        changes[name] = (value.lower() in ("1", "true", "yes")) if kind is bool else kind(value)
    return changes


def errors(model, items) -> tuple[float, float, float]:
    """Gap, occupied-valence and core MAE (eV) of the model's eigenvalues on prepared frames."""
    accumulator = ErrorAccumulator()
    for item in items:
        frame = item.frame
        with torch.no_grad():
            blocks = model.hamiltonian_head(item.groups)
            hamiltonian = assemble(blocks, block_layout([frame.numbers], [item.pairs]))[0]
        accumulator.add_orbitals(torch.linalg.eigvalsh(hamiltonian).numpy(), frame.mo_target, frame.numbers, frame.nocc)
    summary = accumulator.summary()
    return summary["gap"].mae, summary["occupied_valence"].mae, summary["core"].mae


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--train", nargs="+", required=True)
    parser.add_argument("--held-out", nargs="*", default=[])
    parser.add_argument("--validation", nargs="+", required=True)
    parser.add_argument("--preset", default="neutral-lode")
    parser.add_argument("--variant", action="append", default=[], help="NAME=VALUE[,NAME=VALUE] (repeatable)")
    parser.add_argument("--regularisation", type=float, nargs="+", default=[1e-6])
    parser.add_argument("--pair-regularisation", type=float, nargs="+", default=[None],
                        help="ridge of the pair blocks alone (default: --regularisation's)")
    args = parser.parse_args(argv)

    sets = {"train": [f for p in args.train for f in read_frames(p)],
            "held-out": [f for p in args.held_out for f in read_frames(p)],
            "validation": [f for p in args.validation for f in read_frames(p)]}
    preset = dataclasses.replace(PRESETS[args.preset], energy_baseline=None, dispersion=False,
                                 hamiltonian_members=0)
    print(", ".join(f"{k}: {len(v)} frames" for k, v in sets.items()) + f"; preset {args.preset}")
    print(f"{'variant':>28} {'ridge':>7} {'pairs':>7} {'held-out gap':>12} {'occ':>6} {'core':>6} {'validation gap':>14} {'occ':>6}"
          f" {'train gap':>9} {'seconds':>7}")
    for variant in ["", *args.variant]:
        start = time.perf_counter()
        descriptor = dataclasses.replace(preset.descriptor, **parse_variant(variant, preset.descriptor))
        model = build_model(dataclasses.replace(preset, descriptor=descriptor), 0)
        items = {name: prepare_inputs(model, frames, name, False) for name, frames in sets.items() if frames}
        fit_feature_scales(model, items["train"])
        fit_gates(model, items["train"])
        for regularisation, pairs in itertools.product(args.regularisation, args.pair_regularisation):
            ridge_initialise(model, items["train"], "adjusted", regularisation, pairs)
            held = errors(model, items["held-out"]) if "held-out" in items else (float("nan"),) * 3
            validation = errors(model, items["validation"])
            train_gap = errors(model, items["train"][::5])[0]
            print(f"{variant or 'preset':>28} {regularisation:7.0e} {pairs or regularisation:7.0e} {held[0]:12.3f} {held[1]:6.3f} {held[2]:6.3f} "
                  f"{validation[0]:14.3f} {validation[1]:6.3f} {train_gap:9.3f} {time.perf_counter() - start:7.0f}",
                  flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
