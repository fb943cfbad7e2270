"""The ``mlham`` command line: ``mlham generate`` (more subcommands as they land)."""

from __future__ import annotations

import argparse
import sys
from typing import Sequence


def _add_generate(subparsers) -> None:
    from ase_mlham.data.generate import SamplingSettings
    from ase_mlham.data.reference import ReferenceSettings
    from ase_mlham.data.sampling import SAMPLERS

    sampling, reference = SamplingSettings(), ReferenceSettings()
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
    parser.add_argument("molecules", nargs="+", metavar="MOLECULE",
                        help="a G2 name (ase.build.molecule, e.g. H2O, C6H6), a structure file readable "
                             "by ase.io (xyz, extxyz, ...), or a SMILES string (needs RDKit; prefix "
                             "'smiles:' to force that reading)")
    parser.add_argument("--db", required=True, help="ASE database to append to (created if missing)")
    parser.add_argument("--name", help="name stored as the 'molecule' key (default: the G2 name, file "
                                       "stem or SMILES); only with a single MOLECULE")
    parser.add_argument("--frames", type=int, default=15,
                        help="frames per molecule, frame 0 being the starting geometry")
    parser.add_argument("--stride", type=int, default=sampling.stride, help="MD steps between frames")
    parser.add_argument("--temperature", type=float, default=sampling.temperature,
                        help="Langevin temperature, K")
    parser.add_argument("--timestep", type=float, default=sampling.timestep, help="MD time step, fs")
    parser.add_argument("--friction", type=float, default=sampling.friction, help="Langevin friction, 1/fs")
    parser.add_argument("--seed", type=int, default=sampling.seed,
                        help="random seed of the velocities and thermostat (and of SMILES embedding)")
    parser.add_argument("--sampler", choices=SAMPLERS, default=sampling.sampler,
                        help="calculator driving the sampling MD ('emt' is a toy for tests)")
    parser.add_argument("--xc", default=reference.xc, help="exchange-correlation functional (PySCF name)")
    parser.add_argument("--basis", default=reference.basis, help="large basis set (PySCF name)")
    parser.add_argument("--no-density-fit", action="store_true",
                        help="exact Coulomb/exchange instead of density fitting for the large basis")
    parser.add_argument("--conv-tol", type=float, default=reference.conv_tol,
                        help="SCF energy convergence threshold of the large-basis calculation, Hartree")
    parser.add_argument("--max-memory", type=int, default=reference.max_memory_mb,
                        help="PySCF memory limit per process, MB")
    parser.add_argument("--workers", type=int, default=1,
                        help="processes computing references in parallel (threads are split among them)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.set_defaults(run=_run_generate)


def _run_generate(args: argparse.Namespace) -> int:
    from ase_mlham.data.generate import SamplingSettings, generate
    from ase_mlham.data.molecules import resolve_structure
    from ase_mlham.data.reference import ReferenceSettings

    if args.name and len(args.molecules) > 1:
        raise ValueError("--name needs exactly one MOLECULE")
    for option in ("frames", "stride", "workers"):
        if getattr(args, option) < 1:
            raise ValueError(f"--{option} must be at least 1, got {getattr(args, option)}")
    for option in ("temperature", "timestep", "conv_tol"):
        if not getattr(args, option) > 0:
            raise ValueError(f"--{option.replace('_', '-')} must be positive, got {getattr(args, option)}")
    # Validate every molecule before anything is sampled or written.
    structures = [resolve_structure(spec, args.name, args.seed) for spec in args.molecules]
    sampling = SamplingSettings(temperature=args.temperature, stride=args.stride, timestep=args.timestep,
                                friction=args.friction, seed=args.seed, sampler=args.sampler)
    reference = ReferenceSettings(xc=args.xc, basis=args.basis, density_fit=not args.no_density_fit,
                                  conv_tol=args.conv_tol, max_memory_mb=args.max_memory)
    _check_pyscf_settings(reference)
    reports = generate(structures, args.db, args.frames, sampling, reference, args.workers,
                       show_progress=not args.quiet)
    for report in reports:
        print(f"{report.molecule}: {len(report.written)} written, {len(report.skipped)} already present, "
              f"{len(report.failed)} left out" + (f" (frames {sorted(report.failed)})" if report.failed else ""))
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


def build_parser() -> argparse.ArgumentParser:
    """The ``mlham`` argument parser with every subcommand."""
    parser = argparse.ArgumentParser(prog="mlham", description="ML minimal-basis Hamiltonians for ASE and i-PI")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _add_generate(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``mlham`` console script; returns the exit status."""
    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except (ValueError, ImportError, RuntimeError, FileNotFoundError) as err:
        print(f"mlham {args.command}: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
