"""``mlham generate``: end to end, resume after interruption, bad input, failed SCF."""

import os
import signal
import sqlite3
import subprocess
import sys
import time

import numpy as np
import pytest
from ase.db import connect
from ase.io import read

from ase_mlham.data import generate as generate_module
from ase_mlham.data.generate import SamplingSettings, frames_path, generate
from ase_mlham.data.molecules import resolve_structure
from ase_mlham.data.reference import ReferenceSettings, SCFNotConvergedError
from ase_mlham.data.schema import validate_row

# The small case: water, STO-3G minimal plus def2-SVP as the "large" basis.
WATER_ARGS = ["H2O", "--basis", "def2-svp", "--stride", "10", "--quiet"]


def run_cli(*args, timeout: float):
    """``mlham generate ARGS`` in its own process group, killed as a whole (workers too) on timeout."""
    process = subprocess.Popen([sys.executable, "-m", "ase_mlham.cli", "generate", *args], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        stdout, stderr = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.communicate()
        raise
    return subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)


def frames_in(db_path):
    return sorted(row.frame for row in connect(str(db_path)).select())


def emt_settings() -> dict:
    """``generate`` keywords of the fast cases: EMT sampling, an STO-3G reference without density fitting."""
    return dict(sampling=SamplingSettings(sampler="emt", stride=2),
                reference=ReferenceSettings(basis="sto-3g", density_fit=False), show_progress=False)


def count_rows(db_path):
    if not db_path.exists():
        return 0
    try:
        with sqlite3.connect(db_path, timeout=1) as connection:
            return connection.execute("select count(*) from systems").fetchone()[0]
    except sqlite3.OperationalError:  # tables not created yet, or locked mid-write
        return 0


def test_two_water_frames_validate_and_rerun_adds_nothing(tmp_path):
    db_path = tmp_path / "water.db"
    start = time.perf_counter()
    result = run_cli(*WATER_ARGS, "--db", str(db_path), "--frames", "2", timeout=120)
    assert result.returncode == 0, result.stderr
    assert time.perf_counter() - start < 60
    assert "2 written" in result.stdout
    rows = list(connect(str(db_path)).select())
    for row in rows:
        validate_row(row)
    assert [(r.molecule, r.frame, r.basis, r.xc, r.minimal_basis) for r in rows] == [
        ("H2O", 0, "def2-svp", "b3lyp", "sto-3g"), ("H2O", 1, "def2-svp", "b3lyp", "sto-3g")]
    again = run_cli(*WATER_ARGS, "--db", str(db_path), "--frames", "2", timeout=120)
    assert again.returncode == 0 and "0 written, 2 already present" in again.stdout
    assert frames_in(db_path) == [0, 1]


def test_kill_minus_nine_then_rerun_completes_exactly_once(tmp_path):
    db_path = tmp_path / "water.db"
    args = [*WATER_ARGS, "--db", str(db_path), "--frames", "6", "--workers", "2"]
    process = subprocess.Popen([sys.executable, "-m", "ase_mlham.cli", "generate", *args],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while count_rows(db_path) < 1 and time.monotonic() < deadline and process.poll() is None:
            time.sleep(0.02)
        os.killpg(process.pid, signal.SIGKILL)  # the driver and its workers, mid-run
        process.wait(timeout=10)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
    written_before = count_rows(db_path)
    assert 1 <= written_before < 6, "the run was not interrupted mid-way"
    result = run_cli(*args, timeout=300)
    assert result.returncode == 0, result.stderr
    assert f"{6 - written_before} written, {written_before} already present" in result.stdout
    assert frames_in(db_path) == list(range(6))
    for row in connect(str(db_path)).select():
        validate_row(row)


@pytest.mark.parametrize("molecule, message", [
    ("unobtainium", "unknown molecule 'unobtainium'"),
    ("SiH4", "unsupported element.*Si"),
    ("CH3", "odd electron count"),
])
def test_bad_input_writes_nothing(tmp_path, molecule, message):
    db_path = tmp_path / "bad.db"
    # The good molecule first: validation of all of them precedes any work.
    result = run_cli("H2O", molecule, "--db", str(db_path), "--basis", "def2-svp", timeout=60)
    assert result.returncode == 2
    assert result.stderr.startswith("mlham generate: error:")
    import re
    assert re.search(message, result.stderr)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("option, value, message", [
    ("--frames", "0", "--frames must be at least 1"),
    ("--xc", "nonsense-functional", "unknown exchange-correlation functional"),
    ("--basis", "no-such-basis", "unknown basis set"),
])
def test_bad_options_write_nothing(tmp_path, option, value, message):
    result = run_cli("H2O", "--db", str(tmp_path / "bad.db"), option, value, timeout=60)
    assert result.returncode == 2 and message in result.stderr
    assert list(tmp_path.iterdir()) == []


def test_non_converged_frame_is_reported_and_left_out(tmp_path, monkeypatch):
    real = generate_module.compute_reference
    calls = []

    def flaky(atoms, settings):
        calls.append(1)
        if len(calls) == 2:
            raise SCFNotConvergedError("b3lyp/sto-3g: SCF did not converge")
        return real(atoms, settings)

    monkeypatch.setattr(generate_module, "compute_reference", flaky)
    db_path = tmp_path / "w.db"
    structures = [resolve_structure("H2O")]
    settings = emt_settings()
    (report,) = generate(structures, db_path, 3, **settings)
    assert report.written == [0, 2] and list(report.failed) == [1]
    assert "did not converge" in report.failed[1]
    assert frames_in(db_path) == [0, 2]
    (report,) = generate(structures, db_path, 3, **settings)  # a re-run retries it
    assert report.written == [1] and report.skipped == [0, 2] and not report.failed
    assert frames_in(db_path) == [0, 1, 2]


def test_other_sampling_settings_are_refused(tmp_path):
    db_path = tmp_path / "w.db"
    structures = [resolve_structure("H2O")]
    reference = ReferenceSettings(basis="sto-3g", density_fit=False)
    generate(structures, db_path, 1, SamplingSettings(sampler="emt", stride=2), reference, show_progress=False)
    assert frames_path(db_path, "H2O").is_file()
    with pytest.raises(ValueError, match="sampled with other settings"):
        generate(structures, db_path, 1, SamplingSettings(sampler="emt", stride=3), reference, show_progress=False)


def test_more_frames_extend_the_same_trajectory(tmp_path):
    db_path = tmp_path / "w.db"
    structures = [resolve_structure("H2O")]
    settings = emt_settings()
    generate(structures, db_path, 2, **settings)
    (report,) = generate(structures, db_path, 3, **settings)
    assert report.skipped == [0, 1] and report.written == [2]


def test_rows_are_the_record_when_the_frames_file_is_lost(tmp_path):
    # A fresh machine resumes from a committed database without the frames file; its re-run MD drifts
    # apart from the first (chaotic, other CPU or build), here imitated by moving a stored frame.
    db_path = tmp_path / "w.db"
    structures = [resolve_structure("H2O")]
    settings = emt_settings()
    generate(structures, db_path, 2, **settings)
    row = connect(str(db_path)).get(frame=1)
    moved = row.positions + 1e-3
    with sqlite3.connect(db_path) as connection:  # ase.db keeps positions as a float64 blob
        connection.execute("update systems set positions=? where id=?", (moved.astype(np.float64).tobytes(),
                                                                         row.id))
    frames_path(db_path, "H2O").unlink()
    (report,) = generate(structures, db_path, 3, **settings)
    assert report.skipped == [0, 1] and report.written == [2]
    np.testing.assert_allclose(read(frames_path(db_path, "H2O"), index=1).positions, moved, atol=1e-7)
    # the rows still tell another sampling temperature apart, file or no file
    frames_path(db_path, "H2O").unlink()
    hotter = SamplingSettings(sampler="emt", stride=2, temperature=settings["sampling"].temperature + 100)
    with pytest.raises(ValueError, match=r"holds frames of 'H2O' sampled at .* K, not at .* K"):
        generate(structures, db_path, 3, hotter, settings["reference"], show_progress=False)


def test_excitations_are_stored_and_missing_ones_reported(tmp_path):
    db_path = tmp_path / "w.db"
    structures = [resolve_structure("H2O")]
    sampling = SamplingSettings(sampler="emt", stride=2)
    plain = ReferenceSettings(basis="sto-3g", density_fit=False)
    generate(structures, db_path, 1, sampling, plain, show_progress=False)
    with_excitations = ReferenceSettings(basis="sto-3g", density_fit=False, excitations=2)
    (report,) = generate(structures, db_path, 2, sampling, with_excitations, show_progress=False)
    assert report.written == [1] and report.skipped == [0] and report.lacking_excitations == [0]
    rows = {row.frame: row for row in connect(str(db_path)).select()}
    for row in rows.values():
        validate_row(row)
    assert "tda_energies" not in rows[0].data
    assert rows[1].data["tda_energies"].shape == rows[1].data["sto3g_tda_oscillator_strengths"].shape == (2,)


def test_mlham_generate_excitations_option(tmp_path):
    result = run_cli("H2O", "--db", str(tmp_path / "bad.db"), "--excitations", "-1", timeout=60)
    assert result.returncode == 2 and "excitations must be 0 or more, got -1" in result.stderr
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("environment, workers, expected", [("", 1, None), ("1", 1, 1), ("1", 2, 1), ("64", 1, None)])
def test_threads_per_worker_respect_omp_num_threads(monkeypatch, environment, workers, expected):
    monkeypatch.setattr(os, "cpu_count", lambda: 8)
    monkeypatch.setenv("OMP_NUM_THREADS", environment)
    expected = 8 // workers if expected is None else expected
    assert generate_module.threads_per_worker(workers) == expected


def test_skip_start_computes_frames_after_the_starting_geometry(tmp_path):
    db_path = tmp_path / "w.db"
    structures = [resolve_structure("H2O")]
    settings = emt_settings()
    (report,) = generate(structures, db_path, 3, skip_start=True, **settings)
    assert report.written == [1, 2] and frames_in(db_path) == [1, 2]
    (report,) = generate(structures, db_path, 3, skip_start=True, **settings)
    assert report.skipped == [1, 2] and not report.written


def test_the_sampling_model_is_part_of_the_sampling_record(tmp_path):
    from ase_mlham.data.generate import _sampling_record

    assert "sampling_sampler_model" not in _sampling_record("H2O", SamplingSettings())
    assert _sampling_record("H2O", SamplingSettings(sampler="mlham"))["sampling_sampler_model"] == "shipped default"
    record = _sampling_record("H2O", SamplingSettings(sampler="mlham", sampler_model="runs/a.pt"))
    assert record["sampling_sampler_model"] == "runs/a.pt"


def test_cli_refuses_a_sampling_model_without_the_model_sampler(tmp_path):
    result = run_cli(*WATER_ARGS, "--db", str(tmp_path / "w.db"), "--sampler-model", "m.pt", timeout=60)
    assert result.returncode != 0 and "--sampler-model needs --sampler mlham" in result.stderr
    assert not (tmp_path / "w.db").exists()


def test_pairs_are_generated_as_one_molecule(tmp_path):
    db_path = tmp_path / "pair.db"
    result = run_cli("--pair", "H2O", "H2O", "3", "--db", str(db_path), "--basis", "def2-svp", "--frames", "1",
                     "--quiet", timeout=120)
    assert result.returncode == 0, result.stderr
    (row,) = list(connect(str(db_path)).select())
    validate_row(row)
    assert row.molecule == "H2O+H2O@3" and len(row.numbers) == 6


@pytest.mark.parametrize("args, message", [
    (["--pair", "H2O", "H2O", "far"], "GAP must be a distance in Angstrom"),
    (["--pair", "H2O", "H2O", "0.2"], "gap must be a distance above 0.6 A"),
    ([], "give at least one MOLECULE, --pair or --list"),
])
def test_bad_pairs_write_nothing(tmp_path, args, message):
    result = run_cli(*args, "--db", str(tmp_path / "bad.db"), timeout=60)
    assert result.returncode == 2 and message in result.stderr
    assert list(tmp_path.iterdir()) == []


def test_a_stale_lock_file_does_not_block_a_rerun(tmp_path):
    # What `kill -9` during an ase.db write used to leave behind: the next run waited in it forever.
    db_path = tmp_path / "water.db"
    (tmp_path / "water.db.lock").write_text("")
    result = run_cli("H2O", "--db", str(db_path), "--basis", "sto-3g", "--no-density-fit", "--frames", "1",
                     "--quiet", timeout=120)
    assert result.returncode == 0, result.stderr
    assert frames_in(db_path) == [0]


def test_molecule_list_split_with_relaxed_start(tmp_path):
    listing = tmp_path / "molecules.smi"
    listing.write_text("# SMILES name split group\nO water-a test x\nN ammonia-a validation x\nC methane-a test x\n")
    db_path = tmp_path / "list.db"
    result = run_cli("--list", str(listing), "--split", "test", "--relax", "--db", str(db_path), "--basis", "sto-3g",
                     "--no-density-fit", "--frames", "2", "--stride", "5", "--quiet", timeout=180)
    assert result.returncode == 0, result.stderr
    rows = list(connect(str(db_path)).select())
    assert sorted((row.molecule, row.frame) for row in rows) == [
        ("methane-a", 0), ("methane-a", 1), ("water-a", 0), ("water-a", 1)]
    for row in rows:
        validate_row(row)
        assert row.smiles in ("O", "C")
    # frame 0 is the GFN2-xTB minimum, and the frame file says so
    from tblite.ase import TBLite

    start = read(frames_path(db_path, "water-a"), index=0)
    assert start.info["sampling_relax"]
    start.calc = TBLite(method="GFN2-xTB", verbosity=0)
    assert np.linalg.norm(start.get_forces(), axis=1).max() < 0.01


@pytest.mark.parametrize("args, message", [
    (["--split", "test", "H2O"], "--split needs --list"),
    (["--list", "missing.smi"], "molecule list 'missing.smi' does not exist"),
])
def test_bad_list_options_write_nothing(tmp_path, args, message):
    result = run_cli(*args, "--db", str(tmp_path / "bad.db"), timeout=60)
    assert result.returncode == 2 and message in result.stderr
    assert list(tmp_path.iterdir()) == []


def test_a_molecule_whose_sampling_fails_is_reported_and_the_next_one_done(tmp_path, monkeypatch):
    real = generate_module.load_or_sample_frames

    def failing_for_water(db_path, structure, *args, **kwargs):
        if structure.name == "H2O":
            raise RuntimeError("the relaxation did not converge in 2000 steps")
        return real(db_path, structure, *args, **kwargs)

    monkeypatch.setattr(generate_module, "load_or_sample_frames", failing_for_water)
    db_path = tmp_path / "w.db"
    reports = generate([resolve_structure("H2O"), resolve_structure("NH3")], db_path, 1,
                       SamplingSettings(sampler="emt"), ReferenceSettings(basis="sto-3g", density_fit=False),
                       show_progress=False)
    assert "did not converge" in reports[0].sampling_failed and not reports[0].written
    assert reports[1].written == [0] and reports[1].sampling_failed is None
    assert [row.molecule for row in connect(str(db_path)).select()] == ["NH3"]


def test_active_learning_keeps_the_frames_the_model_is_least_sure_of(tmp_path):
    import zlib

    from ase_mlham.data.sampling import make_sampling_calculator, sample_configurations, uncertainty_score
    from ase_mlham.model.io import save_model
    from ase_mlham.model.testing import random_tiny_delta_model

    model_path = tmp_path / "delta.pt"
    save_model(random_tiny_delta_model(seed=6, scale=0.05), model_path,
               {"uncertainty_thresholds": {"energy": 1.0, "forces": 1.0, "gap": 1.0}})
    sampling = SamplingSettings(sampler="mlham", sampler_model=str(model_path), stride=3, temperature=300,
                                candidates=6)
    structure = resolve_structure("H2O")
    frames = generate_module.load_or_sample_frames(tmp_path / "al.db", structure, 3, sampling)
    assert len(frames) == 3 and frames[0].info["sampling_candidates"] == 6
    calculator = make_sampling_calculator("mlham", str(model_path))
    everything = sample_configurations(  # the same trajectory, all six frames
        structure.atoms, calculator, 6, temperature=300, stride=3, timestep=sampling.timestep,
        friction=sampling.friction, seed=np.random.SeedSequence([0, zlib.crc32(b"H2O")]))
    with pytest.warns(UserWarning, match="the model is unsure here"):  # thresholds of 1 eV: every frame
        scores = [uncertainty_score(frame, calculator) for frame in everything[1:]]
    kept = sorted(np.argsort(scores)[::-1][:2] + 1)
    for frame, index in zip(frames[1:], kept):
        np.testing.assert_allclose(frame.positions, everything[index].positions, atol=1e-9)
    result = run_cli("H2O", "--db", str(tmp_path / "x.db"), "--candidates", "4", "--frames", "3", timeout=60)
    assert result.returncode == 2 and "--candidates needs --sampler mlham" in result.stderr
