"""``mlham generate``: sample frames, compute references, append them to an ASE database.

The job is resumable and idempotent:

1. The sampled frames of each molecule are stored beside the database, in
   ``<db>.frames/<molecule>.extxyz``, written atomically once sampling is
   complete, together with the sampling settings. A re-run reuses them, so the
   frames never change between runs. Where that file is gone (a fresh machine),
   the rows already in the database are the record of the frames they hold.
2. A frame whose row (same ``molecule``, ``frame``, ``xc``, ``basis``) is
   already in the database is skipped; each new row is written in one SQLite
   transaction by the parent process as soon as its reference is done. A run
   killed at any point (even ``kill -9``) loses at most the frames being
   computed, and the next run completes the set exactly once.
3. A frame whose SCF does not converge is reported and not stored.

With ``ReferenceSettings.excitations > 0`` new rows also get the TDA
excitations (``tda_*`` and ``sto3g_tda_*`` in ``row.data``). Rows already in the
database are not recomputed for them; the report lists those that lack them
(:attr:`GenerationReport.lacking_excitations`): use another ``--db`` for a set
that must have excitations everywhere.

PySCF runs ``os.cpu_count() // workers`` threads per worker, at most
``OMP_NUM_THREADS`` when that is set (so ``OMP_NUM_THREADS=1 nice mlham generate
...`` stays beside a concurrent job).
"""

from __future__ import annotations

import os
import re
import zlib
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
from ase import Atoms

from ase_mlham.data.molecules import StartingStructure
from ase_mlham.data.reference import ReferenceSettings, SCFNotConvergedError, compute_reference
from ase_mlham.data.sampling import SAMPLERS
from ase_mlham.data.schema import write_reference_row
from ase_mlham.options import setting
from ase_mlham.progress import ProgressBar

#: Positions of a stored row and of its frame may differ by this much (Angstrom).
POSITION_TOLERANCE = 1e-6


class SamplingError(RuntimeError):
    """The sampler could not produce a molecule's frames (reported; the run goes on with the next one)."""


@dataclass(frozen=True)
class SamplingSettings:
    """Langevin sampling parameters (see :func:`ase_mlham.data.sampling.sample_configurations`); each is an
    option of ``mlham generate`` (:mod:`ase_mlham.options`)."""

    temperature: float = setting(500.0, "Langevin temperature, K")
    stride: int = setting(60, "MD steps between frames")
    timestep: float = setting(0.5, "MD time step, fs")
    friction: float = setting(0.01, "Langevin friction, 1/fs")
    seed: int = setting(0, "random seed of the velocities and thermostat (and of SMILES embedding)")
    sampler: str = setting("gfn2-xtb", "calculator driving the sampling MD: GFN-xTB, an ML-Hamiltonian model "
                           "(active learning: its own MD finds where it is wrong; see --sampler-model) or 'emt' "
                           "(a toy for tests)", choices=SAMPLERS)
    sampler_model: str | None = setting(
        None, "model file driving the 'mlham' sampler (None: the shipped model)", metavar="MODEL")
    relax: bool = setting(False, "frame 0 is the sampler's minimum of the starting structure (BFGS to 0.01 "
                          "eV/A; e.g. the GFN2-xTB minimum of a SMILES structure), and the MD starts there")
    candidates: int = setting(
        0, "with --sampler mlham: sample K frames of the model's own MD and keep frame 0 and the FRAMES-1 on "
           "which the model is least sure (its largest uncertainty relative to its threshold: energy, forces, "
           "gap): active learning by uncertainty; 0: keep every frame", metavar="K")

    def __post_init__(self) -> None:
        if not isinstance(self.stride, (int, np.integer)) or self.stride < 1:
            raise ValueError(f"stride must be at least 1, got {self.stride!r}")
        if not isinstance(self.candidates, (int, np.integer)) or self.candidates < 0:
            raise ValueError(f"candidates must be 0 or more, got {self.candidates!r}")
        for name in ("temperature", "timestep", "friction"):
            if not getattr(self, name) > 0 or not np.isfinite(getattr(self, name)):
                raise ValueError(f"{name} must be positive, got {getattr(self, name)!r}")
        if self.sampler not in SAMPLERS:
            raise ValueError(f"sampler must be one of {SAMPLERS}, got {self.sampler!r}")
        if self.sampler_model is not None and self.sampler != "mlham":
            raise ValueError("--sampler-model needs --sampler mlham")
        if self.candidates and self.sampler != "mlham":
            raise ValueError("--candidates needs --sampler mlham")


@dataclass
class GenerationReport:
    """What one run did for one molecule."""

    molecule: str
    written: list[int] = field(default_factory=list)
    skipped: list[int] = field(default_factory=list)
    failed: dict[int, str] = field(default_factory=dict)
    sampling_failed: str | None = None  # why no frame could be sampled (then nothing else was done)
    lacking_excitations: list[int] = field(default_factory=list)  # skipped rows without TDA data


def frames_path(db_path: str | os.PathLike, molecule: str) -> Path:
    """Where the sampled frames of ``molecule`` for database ``db_path`` are kept."""
    safe = re.sub(r"[^A-Za-z0-9_.+-]", "_", molecule)
    return Path(str(db_path) + ".frames") / f"{safe}.extxyz"


def _sampling_record(molecule: str, sampling: SamplingSettings) -> dict:
    settings = asdict(sampling)
    # Only the model sampler has a model; leaving the key out otherwise keeps the
    # frame files written before it existed valid.
    model = settings.pop("sampler_model")
    if sampling.sampler == "mlham":
        settings["sampler_model"] = "shipped default" if model is None else str(model)
    if settings.pop("relax"):  # likewise: frame files of unrelaxed runs stay valid
        settings["relax"] = True
    candidates = settings.pop("candidates")
    if candidates:
        settings["candidates"] = candidates
    return {"molecule": molecule, **{f"sampling_{k}": v for k, v in settings.items()}}


def load_or_sample_frames(db_path: str | os.PathLike, structure: StartingStructure,
                          n_frames: int, sampling: SamplingSettings,
                          progress: ProgressBar | None = None,
                          recorded: dict[int, Atoms] | None = None) -> list[Atoms]:
    """The first ``n_frames`` frames of ``structure``, sampled once and then reused.

    ``recorded`` maps frame indices to the structures already written to the database. When the frames
    file is gone (a fresh machine resuming from a committed database), their positions replace the
    re-sampled frames with the same elements at their indices: MD is chaotic, so a trajectory re-run on
    another CPU or library build drifts apart from the first in the last bits and then visibly, and the
    rows, not the lost file, are the record (the caller has checked their sampling temperature). Not with
    ``sampling.candidates``: the uncertainty selection maps indices to other candidates when more frames
    are asked for, so the caller's position check refuses the mismatch instead. With the frames file
    present ``recorded`` is not used (the caller checks the rows against the file).

    With ``sampling.candidates`` (the ``mlham`` sampler), ``candidates`` frames are sampled and frame 0 and
    the ``n_frames - 1`` most uncertain ones kept (:func:`~ase_mlham.data.sampling.select_by_uncertainty`);
    asking for more frames later is then refused (the selection would change).
    """
    from ase.io import read, write

    from ase_mlham.data.sampling import (make_sampling_calculator, relax_structure, sample_configurations,
                                         select_by_uncertainty)

    path = frames_path(db_path, structure.name)
    record = _sampling_record(structure.name, sampling)
    stored: list[Atoms] = []
    if path.exists():
        stored = read(path, index=":")
        got = {key: stored[0].info.get(key) for key in record}
        if got != record:
            raise ValueError(
                f"{path} holds frames of {structure.name!r} sampled with other settings "
                f"({got} instead of {record}); use another --db, or delete that file and the "
                f"molecule's rows to start over"
            )
        if len(stored) >= n_frames:
            return stored[:n_frames]
    # Per-molecule seed, so two molecules of one run do not share thermostat noise.
    seed = np.random.SeedSequence([sampling.seed, zlib.crc32(structure.name.encode())])
    calculator = make_sampling_calculator(sampling.sampler, sampling.sampler_model)
    start = relax_structure(structure.atoms, calculator) if sampling.relax else structure.atoms
    frames = sample_configurations(
        start, calculator, max(n_frames, sampling.candidates),
        temperature=sampling.temperature, stride=sampling.stride, timestep=sampling.timestep,
        friction=sampling.friction, seed=seed,
        progress=(lambda done: progress.update(1)) if progress else None,
    )
    if sampling.candidates:
        frames = select_by_uncertainty(frames, calculator, n_frames)
    if not stored and recorded and not sampling.candidates:
        for index, atoms in recorded.items():
            if index < len(frames) and np.array_equal(atoms.numbers, frames[index].numbers):
                frames[index].positions = atoms.positions
    for old, new in zip(stored, frames):
        if np.abs(old.positions - new.positions).max() > POSITION_TOLERANCE:
            raise RuntimeError(f"re-sampling {structure.name!r} did not reproduce the frames in {path}; "
                               "delete that file and the molecule's rows to start over")
    for index, frame in enumerate(frames):
        frame.info.update(record, frame=index)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial.extxyz")
    write(partial, frames, format="extxyz")
    os.replace(partial, path)  # atomic: a killed run leaves the old file or the new one
    return frames


def threads_per_worker(workers: int) -> int:
    """PySCF threads per worker: the cores shared out, capped by ``OMP_NUM_THREADS`` when set."""
    threads = max(1, (os.cpu_count() or 1) // workers)
    limit = os.environ.get("OMP_NUM_THREADS", "").strip()
    if limit.isdigit() and int(limit) > 0:
        threads = min(threads, int(limit))
    return threads


def _init_worker(threads: int) -> None:
    from pyscf import lib

    lib.num_threads(threads)


def _reference_job(frame: Atoms, settings: ReferenceSettings):
    return compute_reference(frame, settings)


def generate(
    structures: list[StartingStructure],
    db_path: str | os.PathLike,
    n_frames: int,
    sampling: SamplingSettings = SamplingSettings(),
    reference: ReferenceSettings = ReferenceSettings(),
    workers: int = 1,
    show_progress: bool = True,
    skip_start: bool = False,
) -> list[GenerationReport]:
    """Sample and compute ``n_frames`` reference rows per structure into ``db_path``.

    ``structures`` must already be validated (:func:`ase_mlham.data.molecules.resolve_structure`).
    With ``skip_start`` frame 0 (the starting geometry, e.g. already in another
    database) is sampled from but not computed: rows are frames 1 to ``n_frames - 1``.
    Returns one report per structure.
    """
    from ase.db import connect

    if n_frames < 1:
        raise ValueError(f"n_frames must be at least 1, got {n_frames}")
    if workers < 1:
        raise ValueError(f"workers must be at least 1, got {workers}")
    names = [s.name for s in structures]
    if len(set(names)) != len(names):
        raise ValueError(f"molecule names must be unique, got {names}")
    # No ase.db lock file: a run killed with kill -9 would leave it behind and the next run would wait
    # in it forever (ase.utils.Lock has no timeout); each row is one SQLite transaction already.
    db = connect(str(db_path), type="db", use_lock_file=False)
    threads = threads_per_worker(workers)
    reports = []
    executor = None
    if workers > 1:
        import multiprocessing

        executor = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"),
                                       initializer=_init_worker, initargs=(threads,))
    else:
        _init_worker(threads)
    try:
        for structure in structures:
            try:
                reports.append(_generate_one(db, db_path, structure, n_frames, sampling, reference,
                                             executor, show_progress, first_frame=1 if skip_start else 0))
            except SamplingError as err:  # one molecule's sampler failing does not stop a long list
                reports.append(GenerationReport(structure.name, sampling_failed=str(err)))
    finally:
        if executor is not None:
            executor.shutdown(cancel_futures=True)
    return reports


def _generate_one(db, db_path, structure: StartingStructure, n_frames: int,
                  sampling: SamplingSettings, reference: ReferenceSettings,
                  executor: ProcessPoolExecutor | None, show_progress: bool,
                  first_frame: int = 0) -> GenerationReport:
    name = structure.name
    report = GenerationReport(name)
    bar = ProgressBar(n_frames, f"{name}: sampling", enabled=show_progress)
    molecule_rows = list(db.select(molecule=name))  # every reference's: they share the frames file
    rows = [row for row in molecule_rows if (row.get("xc"), row.get("basis")) == (reference.xc, reference.basis)]
    recorded = {}
    for row in molecule_rows:
        if abs(row.get("md_temperature", sampling.temperature) - sampling.temperature) > 1e-9:
            raise ValueError(f"{db_path} holds frames of {name!r} sampled at {row.md_temperature} K, not at "
                             f"{sampling.temperature} K; use another --db")
        recorded.setdefault(row.frame, row.toatoms())
    try:
        frames = load_or_sample_frames(db_path, structure, n_frames, sampling, bar, recorded=recorded)
    except RuntimeError as err:  # relaxation not converged, MD failing again and again, sampler SCF failure
        bar.write(f"{name}: no frames ({type(err).__name__}: {err})")
        raise SamplingError(f"{type(err).__name__}: {err}") from err
    done = {}
    for row in rows:
        if row.frame in done:
            raise RuntimeError(f"{db_path} holds frame {row.frame} of {name!r} twice (rows {done[row.frame]} "
                               f"and {row.id})")
        done[row.frame] = row.id
        if row.frame < len(frames) and (
                len(row.numbers) != len(frames[row.frame])
                or np.abs(row.positions - frames[row.frame].positions).max() > POSITION_TOLERANCE):
            raise RuntimeError(f"row {row.id} of {db_path} ({name!r}, frame {row.frame}) does not match "
                               f"the sampled frame in {frames_path(db_path, name)}")
    report.skipped = sorted(frame for frame in done if first_frame <= frame < n_frames)
    if reference.excitations:
        report.lacking_excitations = sorted(
            frame for frame in report.skipped if "tda_energies" not in db.get(id=done[frame]).data)
    pending = [index for index in range(first_frame, n_frames) if index not in done]
    bar = ProgressBar(len(pending), f"{name}: {reference.xc}/{reference.basis}", enabled=show_progress)

    def store(index: int, outcome) -> None:
        if isinstance(outcome, BaseException):
            message = f"{type(outcome).__name__}: {outcome}"
            report.failed[index] = message
            bar.write(f"{name} frame {index}: left out ({message})")
        else:
            write_reference_row(db, frames[index], outcome, name, index, sampling.temperature,
                                reference, smiles=structure.smiles)
            report.written.append(index)
        bar.update(1, f"frame {index}")

    if executor is None:
        for index in pending:
            try:
                outcome = compute_reference(frames[index], reference)
            except (SCFNotConvergedError, RuntimeError, ValueError, MemoryError) as err:
                outcome = err
            store(index, outcome)
    else:
        futures = {executor.submit(_reference_job, frames[index], reference): index for index in pending}
        for future in as_completed(futures):
            error = future.exception()
            store(futures[future], error if error is not None else future.result())
    report.written.sort()
    return report
