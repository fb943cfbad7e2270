"""One model from two: the Hamiltonian head of one model file with the energy head of another.

The two heads read separate inputs (the Hamiltonian head the descriptor's equivariant blocks, the
energy head its own invariants on top of the GFN2-xTB baseline) and are fitted separately by
``mlham train`` (first H', then ``--hamiltonian-from`` fits the energy head). When a retrained
Hamiltonian is better but the retrained energy head is not, the shipped model can take each head
from the file that did better on its own quantities:

    mlham combine --hamiltonian runs/new.pt --energy ase_mlham/models/default.pt --out runs/combined.pt

Everything the Hamiltonian decides (H', its committee, the gap and excitation thresholds) comes
from ``--hamiltonian``; the energy head, its calibration and the energy and forces thresholds come
from ``--energy``. The two files must have the same architecture settings, so that both heads read
the features they were trained on.
"""

from __future__ import annotations

import os
import shlex
import sys
from pathlib import Path

from ase_mlham.model.card import sha256
from ase_mlham.model.io import load_model, save_model
from ase_mlham.model.model import MLHamModel

#: Thresholds (``uncertainty_thresholds`` keys) that belong to the energy head; the rest to the Hamiltonian.
ENERGY_THRESHOLDS = ("energy", "forces")
#: Metadata of the energy file that describes its energy head.
ENERGY_METADATA = ("energy_calibration",)


def _differing_settings(first: dict, second: dict, prefix: str = "") -> list[str]:
    """Dotted names of the settings that differ between two ``ModelSettings.to_dict()``."""
    names = []
    for key in sorted(set(first) | set(second)):
        a, b = first.get(key), second.get(key)
        if isinstance(a, dict) and isinstance(b, dict):
            names += _differing_settings(a, b, f"{prefix}{key}.")
        elif a != b:
            names.append(f"{prefix}{key}")
    return names


def combine_heads(hamiltonian_path: str | os.PathLike, energy_path: str | os.PathLike) -> MLHamModel:
    """The model of ``hamiltonian_path`` with the energy head of ``energy_path``.

    Returns the model with its ``metadata`` set (the Hamiltonian file's, with the energy file's
    calibration and energy/forces thresholds, and an ``energy_head_from`` record naming the energy
    file, its SHA-256 and training command). Raises ``ValueError`` naming the settings that differ.
    """
    model = load_model(hamiltonian_path)
    donor = load_model(energy_path)
    differing = _differing_settings(model.settings.to_dict(), donor.settings.to_dict())
    if differing:
        raise ValueError(f"{str(hamiltonian_path)!r} and {str(energy_path)!r} differ in settings "
                         f"{', '.join(differing)}: their heads read different features and cannot be combined")
    model.energy_head.load_state_dict(donor.energy_head.state_dict(), strict=True)
    metadata = dict(model.metadata)
    for key in ENERGY_METADATA:
        metadata[key] = donor.metadata.get(key)
    thresholds = {name: value for name, value in (metadata.get("uncertainty_thresholds") or {}).items()
                  if name not in ENERGY_THRESHOLDS}
    thresholds.update({name: value for name, value in (donor.metadata.get("uncertainty_thresholds") or {}).items()
                       if name in ENERGY_THRESHOLDS})
    metadata["uncertainty_thresholds"] = thresholds
    sizes = [m.metadata.get("largest_molecule_atoms") for m in (model, donor)]
    if all(size is not None for size in sizes):
        metadata["largest_molecule_atoms"] = max(sizes)
    metadata["energy_head_from"] = {
        "source_file": str(energy_path), "sha256": sha256(energy_path),
        **{key: donor.metadata.get(key) for key in ("command", "databases", "train_frames", "molecules")}}
    model.metadata = metadata
    return model


def combine_files(hamiltonian_path: str | os.PathLike, energy_path: str | os.PathLike,
                  out: str | os.PathLike) -> MLHamModel:
    """:func:`combine_heads`, written to ``out`` with the command that made it (``combine_command``)."""
    if Path(out).resolve() in {Path(hamiltonian_path).resolve(), Path(energy_path).resolve()}:
        raise ValueError(f"--out {str(out)!r} would overwrite one of the models it is made from")
    model = combine_heads(hamiltonian_path, energy_path)
    model.metadata["combine_command"] = " ".join(shlex.quote(arg) for arg in [
        "mlham", "combine", "--hamiltonian", str(hamiltonian_path), "--energy", str(energy_path), "--out", str(out)])
    save_model(model, out, model.metadata)
    return model


def main(argv: list[str] | None = None) -> int:
    """``python -m ase_mlham.model.combine ARGS``: the same as ``mlham combine ARGS``."""
    from ase_mlham.cli import main as cli_main

    return cli_main(["combine", *(sys.argv[1:] if argv is None else argv)])


if __name__ == "__main__":
    sys.exit(main())
