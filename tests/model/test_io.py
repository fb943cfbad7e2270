"""Model files: bit-exact round trip, clear errors for missing, corrupt and foreign files."""

import json

import pytest
import torch
from ase.build import molecule

from ase_mlham.model.io import FORMAT_VERSION, ModelFileError, load_model, model_metadata, save_model
from ase_mlham.model.model import MLHamModel
from ase_mlham.model.testing import randomise

from .conftest import TINY_SETTINGS


def test_round_trip_is_bit_exact(random_model, tmp_path):
    path = tmp_path / "model.pt"
    save_model(random_model, path, {"note": "test"})
    loaded = load_model(path)
    for (name, a), (_, b) in zip(random_model.state_dict().items(), loaded.state_dict().items()):
        assert torch.equal(a, b), name
    water = molecule("H2O")
    before = random_model.predict(water.numbers, water.positions)
    after = loaded.predict(water.numbers, water.positions)
    assert torch.equal(before.hamiltonian, after.hamiltonian) and torch.equal(before.forces, after.forces)
    assert model_metadata(path) == {"note": "test"} == loaded.metadata
    assert loaded.settings == random_model.settings


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="nothing.pt"):
        load_model(tmp_path / "nothing.pt")


def test_corrupt_file(random_model, tmp_path):
    path = tmp_path / "model.pt"
    save_model(random_model, path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ModelFileError, match="corrupt"):
        load_model(path)
    path.write_text("not a model")
    with pytest.raises(ModelFileError, match="corrupt"):
        load_model(path)


def test_foreign_and_future_files(tmp_path):
    path = tmp_path / "other.pt"
    torch.save({"weights": torch.zeros(3)}, path)
    with pytest.raises(ModelFileError, match="not an ase-mlham model file"):
        load_model(path)
    torch.save({"format": "ase-mlham-model", "format_version": FORMAT_VERSION + 1}, path)
    with pytest.raises(ModelFileError, match=f"format version {FORMAT_VERSION + 1}"):
        load_model(path)


def test_version_2_files_keep_their_unscaled_energy_networks(random_model, tmp_path):
    """Version 2 (the models that sampled the active-learning data) differs only in the MLP input
    scale: loaded, it predicts what the same weights with scale 1 predict, not the current scale's."""
    path = tmp_path / "model.pt"
    save_model(random_model, path)
    contents = torch.load(path, weights_only=True)
    contents["format_version"] = 2
    torch.save(contents, path)
    old = load_model(path)
    assert old.energy_head.network_input_scale == 1.0
    assert random_model.energy_head.network_input_scale == random_model.n_energy_invariants**0.5
    water = molecule("H2O")
    current = random_model.predict(water.numbers, water.positions).energy
    random_model.energy_head.network_input_scale = 1.0
    try:
        unscaled = random_model.predict(water.numbers, water.positions).energy
    finally:
        random_model.energy_head.network_input_scale = random_model.n_energy_invariants**0.5
    assert torch.equal(old.predict(water.numbers, water.positions).energy, unscaled)
    assert not torch.allclose(unscaled, current)


def test_loading_never_runs_code_from_the_file(tmp_path):
    class Payload:
        def __reduce__(self):
            return (print, ("code ran",))

    path = tmp_path / "evil.pt"
    torch.save({"format": "ase-mlham-model", "payload": Payload()}, path)
    with pytest.raises(ModelFileError, match="corrupt"):
        load_model(path)


def test_files_written_before_the_energy_descriptor_option_still_load(tmp_path):
    """Their settings have no ``energy_descriptor`` key: the energy head reads the Hamiltonian's descriptor."""
    model = randomise(MLHamModel(TINY_SETTINGS))
    path = tmp_path / "old.pt"
    save_model(model, path)
    contents = torch.load(path, weights_only=True)
    settings = json.loads(contents["settings"])
    del settings["energy_descriptor"]
    contents["settings"] = json.dumps(settings)
    torch.save(contents, path)
    loaded = load_model(path)
    assert loaded.settings.energy_descriptor is None and loaded.energy_descriptor is loaded.descriptor
    water = molecule("H2O")
    assert torch.equal(loaded.predict(water.numbers, water.positions).forces,
                       model.predict(water.numbers, water.positions).forces)


def test_version_3_files_without_lode_sources_read_species_sources(tmp_path):
    """Version 3 predates ``lode_sources``: its settings lack the key and its LODE was species-sourced,
    the setting's default, so such a file loads as a species-LODE model predicting what it did."""
    model = randomise(MLHamModel(TINY_SETTINGS))
    assert model.settings.descriptor.lode_sources == "species"
    path = tmp_path / "v3.pt"
    save_model(model, path)
    contents = torch.load(path, weights_only=True)
    settings = json.loads(contents["settings"])
    del settings["descriptor"]["lode_sources"]
    contents["settings"], contents["format_version"] = json.dumps(settings), 3
    torch.save(contents, path)
    loaded = load_model(path)
    assert loaded.settings == model.settings
    water = molecule("H2O")
    assert torch.equal(loaded.predict(water.numbers, water.positions).energy,
                       model.predict(water.numbers, water.positions).energy)
