"""Model card: built from the model file's metadata and `mlham evaluate --json` tables."""

import json
from pathlib import Path

import pytest

import ase_mlham
from ase_mlham.data.dataset import read_frames
from ase_mlham.evaluation import evaluate, select_frames
from ase_mlham.model.card import main, sha256, target_summary
from ase_mlham.model.io import load_model, read_model_file, save_model


def test_card_records_data_command_and_metrics(random_model, g2_db, tmp_path):
    model_path = tmp_path / "tiny.pt"
    save_model(random_model, model_path, {"command": "mlham train g2.db --out tiny.pt", "databases": ["g2.db"],
                                          "splits": {"test": ["H2O/0"], "validation": ["H2O/1", "H2O/2"]}})
    frames = read_frames(g2_db, molecule="H2O")[:1]
    evaluation = evaluate(random_model, frames, baselines=False, show_progress=False).to_dict()
    table = tmp_path / "g2.json"
    table.write_text(json.dumps(evaluation))
    out = tmp_path / "tiny.json"
    assert main([str(model_path), "--evaluation", f"g2_test={table}", "--note", "tiny", "--out", str(out)]) == 0
    card = json.loads(out.read_text())
    assert card["sha256"] == sha256(model_path)
    assert card["training"]["command"] == "mlham train g2.db --out tiny.pt"
    assert card["splits"] == {"test": 1, "validation": 2}
    gap = evaluation["overall"]["methods"]["model"]["gap"]["mae"]
    assert card["targets"]["g2_test"]["gap"] == {"mae": gap, "target": 0.10, "met": gap <= 0.10}
    assert "larger" not in card["targets"] and card["notes"] == ["tiny"]


def test_shipped_card_describes_the_shipped_model():
    """The card next to the default weights is the one built from them (a retrained model needs a new card)."""
    models = Path(ase_mlham.__file__).parent / "models"
    card = json.loads((models / "default.json").read_text())
    model_path = models / card["model_file"]
    assert card["sha256"] == sha256(model_path)
    assert card["size_bytes"] == model_path.stat().st_size
    # the file's own version, read from the weights, not the code's constant compared with itself
    assert card["format_version"] == read_model_file(model_path)["format_version"]


#: How closely a re-evaluation must reproduce the card: eigenvalues and forces to 1e-6 relative; energies
#: are differences of totals of ~1e4 eV whose last digits depend on the BLAS and thread count (seen: 1.5e-8 eV
#: apart on two machines), so they get an absolute 1e-6 eV (1e-3 meV per molecule) on top.
RELATIVE, ENERGY_ABSOLUTE_MEV = 1e-6, 1e-3


def test_shipped_model_reproduces_its_card(shared_data, g2_db):
    """Re-evaluated on its held-out G2 frames and on the larger molecules, the shipped model reproduces the
    MAEs of its card, and the card's met/missed flags follow from them and the targets."""
    models = Path(ase_mlham.__file__).parent / "models"
    card = json.loads((models / "default.json").read_text())
    model = load_model(models / card["model_file"])
    frames = {"g2_test": select_frames(read_frames(g2_db), model.metadata["splits"]["test"]),
              "larger": read_frames(shared_data / "larger-b3lyp-def2tzvp.db")}
    measured = target_summary({name: evaluate(model, chosen, baselines=False, show_progress=False).to_dict()
                               for name, chosen in frames.items()})
    for name, chosen in frames.items():
        assert len(chosen) == card["evaluations"][name]["n_frames"]
        for key, row in measured[name].items():
            recorded = card["targets"][name][key]
            absolute = ENERGY_ABSOLUTE_MEV if key == "energy_meV_per_molecule" else 0.0
            assert row["mae"] == pytest.approx(recorded["mae"], rel=RELATIVE, abs=absolute), (name, key)
            assert recorded["met"] == (recorded["mae"] <= recorded["target"]), (name, key)


def test_the_shipped_orbital_energies_meet_the_in_distribution_targets():
    """Gap, occupied valence and window on held-out G2 frames, gap and occupied valence on the larger
    molecules: the targets the shipped Hamiltonian meets. v16 and v18 missed the held-out G2 gap target
    (0.14, 0.12: their Hamiltonians were stopped early for molecules never trained on); v22, trained on
    three times as many new training-split molecules (72 against 26), meets it (0.094), and a later model
    must not lose it silently."""
    card = json.loads((Path(ase_mlham.__file__).parent / "models" / "default.json").read_text())
    for name, keys in {"g2_test": ("gap", "occupied_valence", "window"), "larger": ("gap", "occupied_valence")}.items():
        for key in keys:
            assert card["targets"][name][key]["met"], (name, key, card["targets"][name][key])
