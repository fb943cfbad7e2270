"""Model card: the JSON record shipped next to a model file (data, command, metrics).

The card is assembled from the model file's own metadata (written by
``mlham train``: databases, command, splits, settings, epochs) and the JSON
tables written by ``mlham evaluate --json``, so every number in it comes from a
command that can be re-run:

    python -m ase_mlham.model.card MODEL.pt --evaluation g2_test=g2.json \\
        --evaluation larger=larger.json --note "..." --out MODEL.json
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
from pathlib import Path
from typing import Mapping

from ase_mlham.model.io import FORMAT_VERSION, read_model_file

#: Accuracy targets of the shipped model (eV, meV/molecule, eV/Angstrom), for the card's summary.
TARGETS = {
    "g2_test": {"gap": 0.10, "occupied_valence": 0.10, "window": 0.15, "energy_meV_per_molecule": 43.0,
                "forces": 0.050},
    "larger": {"gap": 0.25, "occupied_valence": 0.25},
}


def sha256(path: str | os.PathLike) -> str:
    """Hex SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _model_mae(evaluation: Mapping, group: str) -> float | None:
    entry = evaluation["overall"]["methods"]["model"].get(group)
    return None if entry is None or entry.get("mae") is None else float(entry["mae"])


def target_summary(evaluations: Mapping[str, Mapping]) -> dict:
    """Per evaluation and target: the model's MAE, the target and whether it is met."""
    summary = {}
    for name, targets in TARGETS.items():
        if name not in evaluations:
            continue
        rows = {}
        for key, target in targets.items():
            if key == "energy_meV_per_molecule":
                mae = _model_mae(evaluations[name], "energy")
                mae = None if mae is None else 1000.0 * mae
            else:
                mae = _model_mae(evaluations[name], key)
            rows[key] = {"mae": mae, "target": target, "met": mae is not None and mae <= target}
        summary[name] = rows
    return summary


def model_card(model_path: str | os.PathLike, evaluations: Mapping[str, Mapping], notes: list[str]) -> dict:
    """The card of ``model_path`` with the given ``mlham evaluate --json`` tables."""
    contents = read_model_file(model_path)
    metadata = json.loads(contents["metadata"])
    return {
        "model_file": Path(model_path).name,
        "sha256": sha256(model_path),
        "size_bytes": Path(model_path).stat().st_size,
        "format_version": FORMAT_VERSION,
        "species": contents["species"],
        "basis": contents["basis"],
        "reference": "B3LYP/def2-TZVP (density fitting) orbital energies mo_energies[:N_min], energies, forces",
        "training": {key: metadata.get(key) for key in (
            "command", "databases", "train_frames", "validation_frames", "molecules", "training_settings",
            "model_settings", "epochs_run", "best_epoch_hamiltonian", "best_epoch_energy", "seconds_total",
            "complete")},
        "splits": {name: len(ids) for name, ids in (metadata.get("splits") or {}).items()},
        "evaluations": dict(evaluations),
        "targets": target_summary(evaluations),
        "notes": list(notes),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model", help="model file written by mlham train")
    parser.add_argument("--evaluation", action="append", default=[], metavar="NAME=JSON",
                        help="a table written by `mlham evaluate --json` (g2_test, larger, ...)")
    parser.add_argument("--note", action="append", default=[], help="a free-text note (repeatable)")
    parser.add_argument("--out", required=True, help="card to write (JSON)")
    args = parser.parse_args(argv)
    evaluations = {}
    for entry in args.evaluation:
        name, sep, path = entry.partition("=")
        if not sep:
            parser.error(f"--evaluation takes NAME=JSON, got {entry!r}")
        evaluations[name] = json.loads(Path(path).read_text())
    card = model_card(args.model, evaluations, args.note)
    Path(args.out).write_text(json.dumps(card, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
