"""Model files: one ``.pt`` file with weights, hyper-parameters, species, basis and a format version.

The file is a plain dictionary of tensors, strings and numbers written by
``torch.save`` and read with ``torch.load(..., weights_only=True)``, which
never executes code from the file.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import torch

from ase_mlham.model.inputs import FeatureGroup
from ase_mlham.model.model import MLHamModel
from ase_mlham.model.settings import ModelSettings

#: Identifies an ase-mlham model file.
FORMAT_NAME = "ase-mlham-model"
#: Bumped whenever the file layout or the architecture changes incompatibly.
# 2: energy head of linear term + MLP on all invariants (was a PCA projection);
# 3: the energy MLPs read the standardised invariants times sqrt(n_invariants);
# 4: the LODE sources are a setting (DescriptorSettings.lode_sources, "bond-charges" since v11);
# 5: energy baseline (GFN2-xTB), dispersion and baseline accuracy settings; a damped energy head's
#    covariance, uncertainty scale and damping width (v13)
FORMAT_VERSION = 5
#: Older versions still read, with what differs from the current architecture: version 2 has the
#: same weights, its MLPs read the standardised invariants unscaled (the models that sampled the
#: active-learning data are version 2, and the card's commands must keep running); version 3 has
#: species-sourced LODE, the settings' default.
READABLE_VERSIONS = {2: {"energy_network_input_scale": 1.0}, 3: {}, 4: {}, FORMAT_VERSION: {}}


class ModelFileError(ValueError):
    """A model file is corrupt, of another format or of another format version."""


def save_model(model: MLHamModel, path: str | os.PathLike, metadata: dict | None = None) -> None:
    """Write ``model`` (and JSON-serialisable ``metadata``) to ``path`` atomically."""
    contents = {
        "format": FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "settings": json.dumps(model.settings.to_dict()),
        "group_sizes": json.dumps([[[group.kind, *group.species, group.lam, group.sigma], list(size)]
                                   for group, size in model.group_sizes.items()]),
        "n_energy_invariants": model.n_energy_invariants,
        "species": list(model.species),
        "basis": "sto-3g",
        "metadata": json.dumps(metadata or {}),
        "state_dict": {name: tensor.detach().cpu().clone() for name, tensor in model.state_dict().items()},
    }
    path = Path(path)
    partial = path.with_name(path.name + ".partial")
    torch.save(contents, partial)
    os.replace(partial, path)


def _group_from_json(entry) -> FeatureGroup:
    kind, z_i, z_j, lam, sigma = entry
    return FeatureGroup(kind, (int(z_i), int(z_j)), int(lam), int(sigma))


def read_model_file(path: str | os.PathLike) -> dict:
    """The checked contents of a model file (no model built)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"model file {str(path)!r} does not exist")
    try:
        contents = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # pickle, zip and torch errors all mean the same here
        # torch's own text (e.g. ": 101" for a text file, or advice to set weights_only=False, which would
        # run arbitrary code from the file) helps nobody: name the file and what it should be
        raise ModelFileError(f"model file {str(path)!r} is not a PyTorch archive written by `mlham train` "
                             f"(corrupt, truncated or another kind of file; {type(err).__name__})") from None
    if not isinstance(contents, dict) or contents.get("format") != FORMAT_NAME:
        raise ModelFileError(f"{str(path)!r} is not an ase-mlham model file")
    version = contents.get("format_version")
    if version not in READABLE_VERSIONS:
        raise ModelFileError(f"model file {str(path)!r} has format version {version}; this ase-mlham reads "
                             f"versions {sorted(READABLE_VERSIONS)} (retrain or use a matching ase-mlham)")
    missing = {"settings", "group_sizes", "n_energy_invariants", "state_dict"} - set(contents)
    if missing:
        raise ModelFileError(f"model file {str(path)!r} lacks {sorted(missing)}")
    return contents


def load_model(path: str | os.PathLike) -> MLHamModel:
    """Rebuild a model from a file written by :func:`save_model` (float64, eval mode)."""
    contents = read_model_file(path)
    try:
        settings = ModelSettings.from_dict(json.loads(contents["settings"]))
        group_sizes = {_group_from_json(group): tuple(size) for group, size in json.loads(contents["group_sizes"])}
        model = MLHamModel(settings, group_sizes, int(contents["n_energy_invariants"]))
        model.load_state_dict(contents["state_dict"], strict=True)
        legacy = READABLE_VERSIONS[contents["format_version"]]
        if "energy_network_input_scale" in legacy:
            model.energy_head.network_input_scale = legacy["energy_network_input_scale"]
    except (KeyError, TypeError, ValueError, RuntimeError, json.JSONDecodeError) as err:
        raise ModelFileError(f"model file {str(path)!r} does not match this ase-mlham's architecture: {err}") from None
    model.metadata = json.loads(contents.get("metadata", "{}"))
    return model.eval()


def model_metadata(path: str | os.PathLike) -> dict:
    """The metadata stored with a model (training command, data, metrics)."""
    return json.loads(read_model_file(path).get("metadata", "{}"))
