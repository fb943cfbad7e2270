"""One model from two: the Hamiltonian head of one model file with the energy head of another.

The two heads read separate inputs (the Hamiltonian head the descriptor's equivariant blocks, the
energy head its own invariants on top of the GFN2-xTB baseline) and are fitted separately by
``mlham train`` (first H', then ``--hamiltonian-from`` fits the energy head). When a retrained
Hamiltonian is better but the retrained energy head is not, the shipped model can take each head
from the file that did better on its own quantities:

    mlham combine --hamiltonian runs/new.pt --energy ase_mlham/models/default.pt --out runs/combined.pt

Everything the Hamiltonian decides (H', its committee and its scales, the gap and excitation
thresholds, the descriptor) comes from ``--hamiltonian``; the energy head with its calibration, its
own descriptor, baseline and dispersion settings, and the energy and forces thresholds come from
``--energy``. Refused: Hamiltonian-side architectures that differ, an energy head that reads the
Hamiltonian's features from a different descriptor, different held-out (test) frames (``mlham
evaluate`` would then count frames one head was trained on as held out), and files of an older format.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shlex
import sys
from pathlib import Path

from ase_mlham.model.card import sha256
from ase_mlham.model.io import FORMAT_VERSION, load_model, read_model_file, save_model
from ase_mlham.model.model import MLHamModel
from ase_mlham.model.settings import ModelSettings

#: Thresholds (``uncertainty_thresholds`` keys) that belong to the energy head; the rest to the Hamiltonian.
ENERGY_THRESHOLDS = ("energy", "forces")
#: Settings of the Hamiltonian side (the rest belong to the energy head).
HAMILTONIAN_SETTINGS = ("descriptor", "gate_channels", "hamiltonian_members")
#: Metadata that describes how the energy head was fitted: taken from the energy file.
ENERGY_METADATA = ("energy_calibration", "best_epoch_energy")


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


def combined_settings(hamiltonian: ModelSettings, energy: ModelSettings) -> ModelSettings:
    """The Hamiltonian side of ``hamiltonian`` with the energy side of ``energy``; ``ValueError`` naming
    the settings that keep them apart."""
    first, second = hamiltonian.to_dict(), energy.to_dict()
    keys = list(HAMILTONIAN_SETTINGS)
    if hamiltonian.energy_descriptor is None or energy.energy_descriptor is None:
        keys.append("energy_descriptor")  # an energy head on the Hamiltonian's features needs the same ones
    differing = _differing_settings({k: first.get(k) for k in keys}, {k: second.get(k) for k in keys})
    if differing:
        raise ValueError(f"the models differ in settings {', '.join(differing)}: their heads read different "
                         "features and cannot be combined")
    return dataclasses.replace(energy, **{name: getattr(hamiltonian, name) for name in HAMILTONIAN_SETTINGS})


def _source(path: str | os.PathLike, model: MLHamModel) -> dict:
    """Where the energy head came from: file, SHA-256 and the training record of that head."""
    here = {"source_file": str(path), "sha256": sha256(path)}
    earlier = model.metadata.get("energy_head_from")
    if isinstance(earlier, dict):  # a combination itself: its record describes the head, this file passed it on
        return {**earlier, "via": here}
    return {**here, **{key: model.metadata.get(key) for key in ("command", "databases", "train_frames", "molecules")}}


def _check_format(path: str | os.PathLike) -> None:
    version = read_model_file(path)["format_version"]
    if version != FORMAT_VERSION:
        # older files carry architecture differences outside the state (e.g. version 2's energy MLP input
        # scale) that a file written now would lose
        raise ValueError(f"{str(path)!r} has model format version {version}; combine reads version "
                         f"{FORMAT_VERSION} only (retrain it with this ase-mlham)")


def combine_heads(hamiltonian_path: str | os.PathLike, energy_path: str | os.PathLike) -> MLHamModel:
    """The model of ``hamiltonian_path`` with the energy head of ``energy_path``.

    Returns the model with its ``metadata`` set: the Hamiltonian file's, with the energy file's
    calibration, best energy epoch and energy/forces thresholds, the union of both training sets'
    molecules and databases, the smaller of their ``largest_molecule_atoms`` (the size up to which both
    heads were measured), an ``energy_head_from`` record (file, SHA-256, training command) and the
    Hamiltonian file's name and SHA-256 (``hamiltonian_file``).
    """
    for path in (hamiltonian_path, energy_path):
        _check_format(path)
    source, donor = load_model(hamiltonian_path), load_model(energy_path)
    tests = [(m.metadata.get("splits") or {}).get("test") for m in (source, donor)]
    if None not in tests and sorted(tests[0]) != sorted(tests[1]):
        raise ValueError(f"{str(hamiltonian_path)!r} and {str(energy_path)!r} hold out different test frames: "
                         "held-out numbers of the combination would include frames one head was trained on")
    settings = combined_settings(source.settings, donor.settings)
    model = MLHamModel(settings, source.group_sizes, donor.n_energy_invariants)
    states = {"energy": donor.state_dict(), "hamiltonian": source.state_dict()}
    state = {name: states["energy" if name.startswith("energy_head.") else "hamiltonian"][name]
             for name in model.state_dict()}
    model.load_state_dict(state, strict=True)
    model.eval()

    metadata = dict(source.metadata)
    if "model_settings" in metadata:
        metadata["model_settings"] = json.loads(json.dumps(settings.to_dict()))  # as training writes it
    for key in ENERGY_METADATA:
        metadata[key] = donor.metadata.get(key)
    thresholds = {name: value for name, value in (source.metadata.get("uncertainty_thresholds") or {}).items()
                  if name not in ENERGY_THRESHOLDS}
    thresholds.update({name: value for name, value in (donor.metadata.get("uncertainty_thresholds") or {}).items()
                       if name in ENERGY_THRESHOLDS})
    metadata["uncertainty_thresholds"] = thresholds
    for key in ("molecules", "databases"):
        values = [*(source.metadata.get(key) or []), *(donor.metadata.get(key) or [])]
        metadata[key] = sorted(set(values)) if key == "molecules" else list(dict.fromkeys(values))
    sizes = [m.metadata.get("largest_molecule_atoms") for m in (source, donor)]
    if all(size is not None for size in sizes):
        metadata["largest_molecule_atoms"] = min(sizes)
    metadata["hamiltonian_file"] = {"source_file": str(hamiltonian_path), "sha256": sha256(hamiltonian_path)}
    metadata["energy_head_from"] = _source(energy_path, donor)
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
