"""The ``mlham`` command line: ``mlham generate | train | evaluate | md | spectrum``."""

from __future__ import annotations

import argparse
import sys
from typing import Sequence

from ase_mlham.calculator import CalculatorSettings
from ase_mlham.options import add_settings_arguments, settings_from_arguments


def _add_generate(subparsers) -> None:
    from ase_mlham.data.generate import SamplingSettings
    from ase_mlham.data.reference import ReferenceSettings

    parser = subparsers.add_parser(
        "generate",
        help="sample frames by MD and compute PySCF references into an ASE database",
        description=(
            "Sample configurations of each MOLECULE by Langevin MD and compute, per frame, the "
            "large-basis DFT reference (energy, forces, MO energies, dipole) and the B3LYP/STO-3G "
            "Fock and overlap matrices, appending one row per frame to an ASE database with the "
            "schema of shared/DATA.md. Re-running the same command resumes: frames already in the "
            "database are skipped, none is written twice. Frames whose SCF does not converge are "
            "reported and left out."
        ),
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("molecules", nargs="*", metavar="MOLECULE",
                        help="a G2 name (ase.build.molecule, e.g. H2O, C6H6), a structure file readable "
                             "by ase.io (xyz, extxyz, ...), or a SMILES string (needs RDKit; prefix "
                             "'smiles:' to force that reading)")
    parser.add_argument("--pair", nargs=3, action="append", default=[], metavar=("A", "B", "GAP"),
                        help="also sample the pair of molecules A and B (as MOLECULE) placed with their "
                             "nearest atoms GAP Angstrom apart, in a random orientation drawn from --seed; "
                             "stored as 'A+B@GAP'. Repeat for more pairs")
    parser.add_argument("--list", metavar="FILE",
                        help="also every molecule of a list file, one 'SMILES name [split [group]]' per line "
                             "(# comments; e.g. data/molecules/molecules.smi), in file order")
    parser.add_argument("--split", help="with --list: only the molecules of this split (its third column)")
    parser.add_argument("--db", required=True, help="ASE database to append to (created if missing)")
    parser.add_argument("--name", help="name stored as the 'molecule' key (default: the G2 name, file "
                                       "stem or SMILES); only with a single MOLECULE")
    parser.add_argument("--frames", type=int, default=15,
                        help="frames per molecule, frame 0 being the starting geometry")
    add_settings_arguments(parser, SamplingSettings)
    parser.add_argument("--skip-start", action="store_true",
                        help="do not compute frame 0, the starting geometry (e.g. when it is in another "
                             "database already): rows are frames 1 to FRAMES-1")
    add_settings_arguments(parser, ReferenceSettings)
    parser.add_argument("--workers", type=int, default=1,
                        help="processes computing references in parallel (threads are split among them)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.set_defaults(run=_run_generate)


def _run_generate(args: argparse.Namespace) -> int:
    from ase_mlham.data.generate import SamplingSettings, generate
    from ase_mlham.data.molecules import molecule_pair, read_molecule_list, resolve_structure
    from ase_mlham.data.reference import ReferenceSettings

    if not args.molecules and not args.pair and not args.list:
        raise ValueError("give at least one MOLECULE, --pair or --list")
    if args.name and (len(args.molecules) + len(args.pair) > 1 or args.list):
        raise ValueError("--name needs exactly one MOLECULE")
    if args.split and not args.list:
        raise ValueError("--split needs --list")
    for option in ("frames", "workers"):
        if getattr(args, option) < 1:
            raise ValueError(f"--{option} must be at least 1, got {getattr(args, option)}")
    # the settings check themselves (one message per problem), before any molecule is read
    sampling = settings_from_arguments(SamplingSettings, args)
    reference = settings_from_arguments(ReferenceSettings, args)
    _check_pyscf_settings(reference)
    if args.candidates and args.candidates <= args.frames:
        raise ValueError("--candidates needs more candidates than --frames")
    # Validate every molecule before anything is sampled or written.
    structures = [resolve_structure(spec, args.name, args.seed) for spec in args.molecules]
    if args.list:
        structures += [resolve_structure(f"smiles:{smiles}", name, args.seed)
                       for smiles, name in read_molecule_list(args.list, args.split)]
    for first, second, gap in args.pair:
        try:
            gap = float(gap)
        except ValueError:
            raise ValueError(f"--pair {first} {second} {gap}: GAP must be a distance in Angstrom") from None
        structures.append(molecule_pair(resolve_structure(first, seed=args.seed),
                                        resolve_structure(second, seed=args.seed), gap, args.seed))
    if args.skip_start and args.frames < 2:
        raise ValueError("--skip-start needs --frames 2 or more (frame 0 is not computed)")
    reports = generate(structures, args.db, args.frames, sampling, reference, args.workers,
                       show_progress=not args.quiet, skip_start=args.skip_start)
    for report in reports:
        if report.sampling_failed:
            print(f"{report.molecule}: left out, no frames could be sampled ({report.sampling_failed})")
            continue
        print(f"{report.molecule}: {len(report.written)} written, {len(report.skipped)} already present, "
              f"{len(report.failed)} left out" + (f" (frames {sorted(report.failed)})" if report.failed else ""))
        if report.lacking_excitations:
            print(f"{report.molecule}: frames {report.lacking_excitations} were already present without "
                  "excitations and were not recomputed (use another --db to get them)")
    return 0


def _check_pyscf_settings(reference) -> None:
    """Fail before any work when PySCF does not know the functional or basis."""
    from pyscf import dft, gto

    try:
        dft.libxc.parse_xc(reference.xc)
    except Exception as err:
        raise ValueError(f"unknown exchange-correlation functional --xc {reference.xc!r}: {err}") from None
    try:
        for element in ("H", "C", "N", "O"):
            gto.basis.load(reference.basis, element)
    except Exception as err:
        raise ValueError(f"unknown basis set --basis {reference.basis!r} (or it lacks H/C/N/O): {err}") from None


def _add_dispersion(subparsers) -> None:
    parser = subparsers.add_parser(
        "dispersion", help="add D4 dispersion energies and forces to reference rows that lack them",
        description=("Add the D4 dispersion energy and forces of each row's functional (dftd4, row.data "
                     "d4_energy in eV, d4_forces in eV/A) to every row of the reference databases that lacks "
                     "them, so that energy models can target B3LYP-D4. Rows that have them are left alone; "
                     "an interrupted run keeps what it did."))
    parser.add_argument("databases", nargs="+", metavar="DB", help="reference databases (ASE db, DATA.md schema)")
    parser.set_defaults(run=_run_dispersion)


def _run_dispersion(args: argparse.Namespace) -> int:
    from pathlib import Path

    from ase_mlham.data.dispersion import add_dispersion

    for path in args.databases:
        if not Path(path).is_file():
            raise ValueError(f"database {path!r} does not exist")
    for path in args.databases:
        added, present = add_dispersion(path)
        print(f"{path}: D4 added to {added} rows, {present} had it")
    return 0


def _add_card(subparsers) -> None:
    parser = subparsers.add_parser(
        "card", help="write a model card: the model file's data, command, calibration and evaluation tables",
        description=("Write the JSON card of MODEL (shipped next to a model file): its SHA-256, the training "
                     "command, data and splits recorded in the file, its uncertainty calibration, and the tables "
                     "of `mlham evaluate --json` given as NAME=JSON (g2_test, larger, unseen, ...), with the "
                     "accuracy targets each meets or misses."))
    parser.add_argument("model", metavar="MODEL", help="model file written by mlham train")
    parser.add_argument("--evaluation", action="append", default=[], metavar="NAME=JSON",
                        help="a table written by `mlham evaluate --json` (repeatable)")
    parser.add_argument("--note", action="append", default=[], help="a free-text note (repeatable)")
    parser.add_argument("--out", required=True, help="card to write (JSON)")
    parser.set_defaults(run=_run_card)


def _run_card(args: argparse.Namespace) -> int:
    import json
    from pathlib import Path

    from ase_mlham.model.card import model_card

    evaluations = {}
    for entry in args.evaluation:
        name, sep, path = entry.partition("=")
        if not sep or not name:
            raise ValueError(f"--evaluation takes NAME=JSON, got {entry!r}")
        if not Path(path).is_file():
            raise ValueError(f"--evaluation {entry}: {path!r} does not exist")
        evaluations[name] = json.loads(Path(path).read_text())
    Path(args.out).write_text(json.dumps(model_card(args.model, evaluations, args.note), indent=2) + "\n")
    print(f"wrote {args.out}")
    return 0


def _add_combine(subparsers) -> None:
    parser = subparsers.add_parser(
        "combine", help="one model file from two: the Hamiltonian head of one, the energy head of another",
        description=("Write a model with the Hamiltonian head, committee and gap threshold of --hamiltonian and "
                     "the energy head, its calibration and the energy and forces thresholds of --energy (both "
                     "written by mlham train with the same Hamiltonian-side settings: descriptor, gate channels, "
                     "committee size; and the same held-out test frames). For keeping each head from the training "
                     "run that did better on its own quantities; the file records both sources."))
    parser.add_argument("--hamiltonian", required=True, metavar="MODEL", help="model whose Hamiltonian head to take")
    parser.add_argument("--energy", required=True, metavar="MODEL", help="model whose energy head to take")
    parser.add_argument("--out", required=True, help="model file to write")
    parser.set_defaults(run=_run_combine)


def _run_combine(args: argparse.Namespace) -> int:
    from ase_mlham.model.combine import combine_files

    model = combine_files(args.hamiltonian, args.energy, args.out)
    thresholds = ", ".join(f"{k} {v:.3g}" for k, v in model.metadata["uncertainty_thresholds"].items())
    print(f"wrote {args.out}: Hamiltonian head of {args.hamiltonian}, energy head of {args.energy}; "
          f"thresholds {thresholds} (eV, eV/A)")
    return 0


def _add_train(subparsers, presets: Sequence[str]) -> None:
    from ase_mlham.model.settings import DEFAULT_PRESET
    from ase_mlham.training.targets import DEFAULT_CACHE
    from ase_mlham.training.trainer import TrainingSettings

    parser = subparsers.add_parser(
        "train", help="train a model on reference databases",
        description=(
            "Train an ML minimal-basis Hamiltonian (eigenvalues fitted to the large-basis MO energies "
            "mo_energies[:N_min], indirect learning) and energy/force head on one or more databases written "
            "by `mlham generate` (or the shared ones). A test fraction of each molecule's frames is held "
            "out (recorded in the model file, used by `mlham evaluate`), a validation fraction drives early "
            "stopping. The model file is rewritten with the best states every few epochs."),
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("databases", nargs="+", metavar="DB", help="reference databases (ASE db, DATA.md schema)")
    parser.add_argument("--out", required=True, help="model file to write (.pt)")
    parser.add_argument("--preset", choices=presets, default=DEFAULT_PRESET,
                        help="model architecture: the shipped model's or a small one for smoke runs")
    add_settings_arguments(parser, TrainingSettings)
    parser.add_argument("--training-only", nargs="+", default=[], metavar="DB",
                        help="databases whose frames all go to training, none to the test or validation splits "
                             "(e.g. active-learning frames: `mlham generate --sampler mlham`)")
    parser.add_argument("--validation", nargs="+", default=[], metavar="DB",
                        help="databases of whole molecules never trained on (the molecule-level validation split): "
                             "early stopping and the energy uncertainty's calibration use them instead of "
                             "--validation-fraction of each training molecule's frames")
    parser.add_argument("--hamiltonian-from", metavar="MODEL",
                        help="keep this model's Hamiltonian head and fit only the preset's energy head (closed "
                             "form, minutes instead of hours; the preset's Hamiltonian descriptor must match)")
    parser.add_argument("--energy-cutoff", type=float, metavar="R",
                        help="cutoff of the energy head's descriptor, Angstrom (not given: the preset's)")
    parser.add_argument("--energy-switch-width", type=float, metavar="W",
                        help="width of the cosine switch below the energy cutoff, Angstrom (not given: the preset's; a "
                             "wide one weighs far neighbours down smoothly: benchmarks/energy_range.py)")
    parser.add_argument("--baseline-cache", default=str(DEFAULT_CACHE), metavar="FILE",
                        help="SQLite file keeping each frame's GFN2-xTB energy and forces (models with an "
                             "energy baseline), so that later runs do not recompute them")
    parser.add_argument("--molecules", nargs="+", help="train on these molecules only")
    parser.add_argument("--max-frames", type=int, help="use at most this many frames (random subset)")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    parser.set_defaults(run=_run_train)


def _run_train(args: argparse.Namespace) -> int:
    from ase_mlham.model.settings import PRESETS, with_energy_range
    from ase_mlham.training.targets import BaselineCache
    from ase_mlham.training.run import train_from_databases
    from ase_mlham.training.trainer import TrainingSettings

    settings = settings_from_arguments(TrainingSettings, args)
    model_settings = with_energy_range(PRESETS[args.preset], args.energy_cutoff, args.energy_switch_width)
    model, result = train_from_databases(
        args.databases, args.out, model_settings, settings, molecules=args.molecules,
        max_frames=args.max_frames, show_progress=not args.quiet, training_only=args.training_only,
        validation_databases=args.validation, hamiltonian_from=args.hamiltonian_from,
        baseline_cache=BaselineCache(args.baseline_cache))
    if result is None:
        from ase_mlham.model.io import model_metadata
        from ase_mlham.training.calibration import describe_energy_calibration

        print(f"wrote {args.out}: energy head fitted on the Hamiltonian of {args.hamiltonian_from}"
              + describe_energy_calibration(model_metadata(args.out).get("energy_calibration")))
        return 0
    v = result.validation
    print(f"wrote {args.out}: {result.epochs_run} epochs; validation MAE gap {v['gap_mae']:.3f} eV, "
          f"occupied valence {v['occupied_valence_mae']:.3f} eV, window {v['window_mae']:.3f} eV, "
          f"energy {v['energy_mae'] * 1000:.1f} meV/molecule, forces {v['forces_mae'] * 1000:.1f} meV/A")
    return 0


def _add_evaluate(subparsers) -> None:
    parser = subparsers.add_parser(
        "evaluate", help="error tables of a model against a reference database, with baselines",
        description=(
            "Errors (MAE, RMSE, max) of MODEL on the frames of DB per orbital group (core, occupied valence, "
            "virtual, HOMO, LUMO, gap, window), energy and forces, side by side with B3LYP/STO-3G eigenvalues "
            "from the database and GFN2-xTB orbital energies (tblite), overall and per molecule."),
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("model", metavar="MODEL", help="model file")
    parser.add_argument("database", metavar="DB", help="reference database")
    parser.add_argument("--frames", choices=("auto", "test", "all"), default="auto",
                        help="'test': only the frames the model held out in training; 'all': every frame; "
                             "'auto': test frames if DB was a training database of the model, else all")
    parser.add_argument("--no-baselines", action="store_true", help="skip the STO-3G and GFN2-xTB columns")
    parser.add_argument("--plot", help="write a parity plot PNG here")
    parser.add_argument("--uncertainty-plot", help="write the uncertainty calibration plot (|error| vs sigma) PNG here")
    parser.add_argument("--json", help="write the tables as JSON here")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.set_defaults(run=_run_evaluate)


def _run_evaluate(args: argparse.Namespace) -> int:
    import json
    from pathlib import Path

    from ase_mlham.data.dataset import read_frames
    from ase_mlham.evaluation import evaluate, select_frames
    from ase_mlham.metrics import parity_plot
    from ase_mlham.model.io import load_model
    from ase_mlham.uncertainty_metrics import calibration_plot, format_calibration

    model = load_model(args.model)
    frames = read_frames(args.database)
    trained_on = Path(args.database).name in model.metadata.get("databases", [])
    choice = args.frames if args.frames != "auto" else ("test" if trained_on else "all")
    if choice == "test":
        frames = select_frames(frames, model.metadata.get("splits", {}).get("test", []))
        if not frames:
            raise ValueError(f"{args.model} records no held-out test frames of {args.database}")
    evaluation = evaluate(model, frames, baselines=not args.no_baselines, show_progress=not args.quiet)
    unseen, n_molecules = unseen_molecules(model, frames), len({frame.molecule for frame in frames})
    seen_text = "" if unseen is None else (
        "; unseen molecules (none trained on)" if len(unseen) == n_molecules
        else f"; {len(unseen)} of {n_molecules} molecules never trained on")
    title = (f"{Path(args.model).name} on {Path(args.database).name}: {len(frames)} frames ({choice}){seen_text}, "
             f"errors vs the reference")
    print(evaluation.table(title))
    print()
    print(evaluation.molecule_table())
    baseline_line = evaluation.baseline_line()
    if baseline_line:
        print(baseline_line)
    calibration = evaluation.uncertainty.summary()
    if calibration:
        print()
        print(format_calibration(calibration, "uncertainty calibration, frame by frame (orbitals: each non-core orbital)"))
    if args.plot:
        parity_plot(evaluation.overall, args.plot, title=title)
    if args.uncertainty_plot:
        if not calibration:
            raise ValueError(f"{args.model} gives no uncertainties: no calibration plot")
        calibration_plot(evaluation.uncertainty, args.uncertainty_plot, title=title)
    if args.json:
        Path(args.json).write_text(json.dumps({"frames": choice, "n_frames": len(frames), "unseen_molecules": unseen,
                                               **evaluation.to_dict()}, indent=1))
    return 0


def unseen_molecules(model, frames) -> list[str] | None:
    """The molecules of ``frames`` that ``model`` never trained on (sorted names; ``None`` when the model does
    not record its training molecules)."""
    trained = model.metadata.get("molecules")
    if trained is None:
        return None
    return sorted({frame.molecule for frame in frames} - set(trained))


def _add_md(subparsers) -> None:
    from ase_mlham.md import CSV_NAME, EXCITATION_CSV_NAME, PLOT_NAME, TRAJECTORY_NAME, MDSettings

    parser = subparsers.add_parser(
        "md", help="molecular dynamics with the ML Hamiltonian, monitoring the HOMO-LUMO gap",
        description=(
            "Run Langevin (or, with --nve, velocity-Verlet) molecular dynamics of MOLECULE with an ML "
            f"Hamiltonian model (default: the shipped model) and write to --out: {TRAJECTORY_NAME} "
            "(extxyz frames with energy, forces, momenta and HOMO/LUMO/gap in the frame info), "
            f"{CSV_NAME} (per step: time, potential/kinetic/total energy, temperature, HOMO, LUMO, gap, S1 and "
            f"its oscillator strength), {EXCITATION_CSV_NAME} (every sTDA excitation per step, the input of "
            f"`mlham spectrum`) and {PLOT_NAME} (gap, S1 and energies along the trajectory)."),
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("molecule", metavar="MOLECULE",
                        help="a G2 name (ase.build.molecule, e.g. H2O, C6H6), a structure file readable by "
                             "ase.io (xyz, extxyz, ...), or a SMILES string (needs RDKit; prefix 'smiles:' to "
                             "force that reading)")
    parser.add_argument("--out", required=True, help="output folder (created; files in it are overwritten)")
    add_settings_arguments(parser, MDSettings)
    add_settings_arguments(parser, CalculatorSettings)
    parser.add_argument("--threads", type=int, default=1,
                        help="PyTorch CPU threads: molecules of tens of atoms gain little from more, and on a "
                             "busy machine extra threads wait on each other and slow every step down")
    parser.add_argument("--no-plot", action="store_true", help="do not write the PNG plot")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.set_defaults(run=_run_md)


def _run_md(args: argparse.Namespace) -> int:
    import torch

    if args.threads < 1:
        raise ValueError(f"--threads must be 1 or more, got {args.threads}")
    previous_threads = torch.get_num_threads()
    torch.set_num_threads(args.threads)
    try:
        return _md_job(args)
    finally:  # restored for callers that run `main` in-process (tests, notebooks)
        torch.set_num_threads(previous_threads)


def _md_job(args: argparse.Namespace) -> int:
    from ase_mlham.data.molecules import resolve_structure
    from ase_mlham.md import MDSettings, energy_drift, run_md

    settings = settings_from_arguments(MDSettings, args)
    structure = resolve_structure(args.molecule, seed=args.seed)
    calculator = settings_from_arguments(CalculatorSettings, args).calculator()
    result = run_md(structure.atoms, args.out, settings, calculator=calculator, show_progress=not args.quiet,
                    plot=not args.no_plot)
    gap = result.column("gap_eV")
    print(f"{structure.name}: {args.steps} steps of {'NVE' if args.nve else 'Langevin'} MD; "
          f"gap {gap.mean():.3f} +- {gap.std():.3f} eV (min {gap.min():.3f}, max {gap.max():.3f}); "
          f"mean temperature {result.column('temperature_K').mean():.1f} K")
    if args.excitations:
        s1, strength = result.column("s1_eV"), result.column("s1_oscillator_strength")
        print(f"S1 {s1.mean():.3f} +- {s1.std():.3f} eV (min {s1.min():.3f}, max {s1.max():.3f}); "
              f"mean oscillator strength {strength.mean():.4f}")
    if args.nve:
        drift = energy_drift(result.column("time_fs"), result.column("total_energy_eV"), len(structure.atoms))
        print(f"total-energy drift {drift:.3f} meV/atom/ps")
    written = [result.trajectory, result.csv] + [path for path in (result.excitations_csv, result.plot) if path]
    print("wrote " + ", ".join(str(path) for path in written))
    return 0


def _add_spectrum(subparsers) -> None:
    parser = subparsers.add_parser(
        "spectrum", help="absorption spectrum of a trajectory from its sTDA excitations",
        description=(
            "Broaden the excitation sticks of every frame of INPUT with Gaussians and average them over the frames "
            "into an absorption spectrum (molar absorption coefficient, L/(mol cm)) plotted as a PNG. INPUT is an "
            "`mlham md` output folder (its excitations.csv, or the S1 columns of observables.csv), one of those CSV "
            "files, or a structure file (extxyz, traj, ...) whose frames store excitation_energies and "
            "oscillator_strengths or are recomputed with --model."),
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("input", metavar="INPUT", help="mlham md folder, its CSV file, or a structure file")
    parser.add_argument("--out", required=True, help="PNG file to write")
    parser.add_argument("--width", type=float, default=0.3, help="full width at half maximum of each Gaussian, eV")
    add_settings_arguments(parser, CalculatorSettings, helps={
        "model": "recompute the excitations of a structure file (or of the folder's trajectory.extxyz) with "
                 "this model file", "excitations": "excitations per frame when recomputing with --model",
        "device": "torch device when recomputing with --model", "dtype": "model precision when recomputing"})
    parser.add_argument("--range", type=float, nargs=2, metavar=("EMIN", "EMAX"),
                        help="energy range of the spectrum, eV (default: around the sticks)")
    parser.add_argument("--csv", help="also write the spectrum (energy, absorption coefficient) to this CSV file")
    parser.set_defaults(run=_run_spectrum)


def _run_spectrum(args: argparse.Namespace) -> int:
    import numpy as np

    from ase_mlham.spectrum import broaden, plot_spectrum, read_sticks, write_spectrum_csv

    if not args.width > 0:
        raise ValueError(f"--width must be positive, got {args.width}")
    grid = None
    if args.range is not None:
        low, high = args.range
        if not high > low:
            raise ValueError(f"--range needs EMIN < EMAX, got {low} {high}")
        grid = np.linspace(low, high, 1000)
    settings = settings_from_arguments(CalculatorSettings, args)
    sticks = read_sticks(args.input, calculator=settings.calculator() if settings.model is not None else None)
    spectrum = broaden(sticks, args.width, energies=grid)
    plot_spectrum(spectrum, sticks, args.out)
    if args.csv:
        write_spectrum_csv(spectrum, args.csv)
    peak = int(np.argmax(spectrum.molar_absorptivity))
    print(f"{sticks.source}: {len(sticks.energies)} excitations of {sticks.n_frames} frame(s); absorption maximum "
          f"{spectrum.molar_absorptivity[peak]:.4g} L/(mol cm) at {spectrum.energies[peak]:.3f} eV")
    print("wrote " + ", ".join([args.out] + ([args.csv] if args.csv else [])))
    return 0


def build_parser(training_presets: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """The ``mlham`` argument parser with every subcommand; ``mlham train --preset`` offers
    ``training_presets`` (default: :data:`~ase_mlham.model.settings.PUBLIC_PRESETS`)."""
    from ase_mlham.model.settings import PUBLIC_PRESETS

    parser = argparse.ArgumentParser(prog="mlham", description="ML minimal-basis Hamiltonians for ASE and i-PI")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _add_generate(subparsers)
    _add_dispersion(subparsers)
    _add_train(subparsers, training_presets or PUBLIC_PRESETS)
    _add_evaluate(subparsers)
    _add_card(subparsers)
    _add_combine(subparsers)
    _add_md(subparsers)
    _add_spectrum(subparsers)
    return parser


def main(argv: Sequence[str] | None = None, parser: argparse.ArgumentParser | None = None) -> int:
    """Entry point of the ``mlham`` console script (``parser``: :func:`build_parser`'s); returns the exit status."""
    args = (parser or build_parser()).parse_args(argv)
    try:
        return args.run(args)
    except (ValueError, ImportError, RuntimeError, FileNotFoundError) as err:
        print(f"mlham {args.command}: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
