"""Stability of MD and geometry optimisation on a model's surface, side by side with GFN2-xTB alone.

For each molecule, from its GFN2-xTB minimum (RDKit structure, BFGS with tblite to 0.01 eV/A):

* Langevin MD (``mlham md`` settings: 300 K, 0.5 fs, friction 0.01/fs, no excitations) for
  ``--steps`` steps with each calculator: whether atoms collapsed (the calculator's overlapping-atoms
  error, or two atoms closer than 0.7 A), the largest and the mean temperature (second half of the
  run), the largest stretch of a bond of the starting structure (d / d0), and whether the bonding graph
  changed (bonds where d < 1.2 (r_i + r_j), as the data issue's reserved-molecule check);
* BFGS from the xTB minimum to ``--fmax``: converged or not, bonding graph kept or not, and the RMSD
  (Kabsch-aligned) of the optimised structure from the xTB minimum.

The molecules by default are G2 molecules whose MD failed with earlier models and drug-like molecules
chosen for this benchmark (none reserved, none in data/molecules/molecules.smi).

    OMP_NUM_THREADS=1 python benchmarks/md_stability.py --model ase_mlham/models/default.pt \\
        --json runs/md-stability.json

(The DFT check along a model's own run, ``--dft-frames``, of the version before this one:
``git show 5bd716a:benchmarks/md_stability.py``.)
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time

import numpy as np

#: G2 molecules whose 300 K MD collapsed or heated up with v11/v12 (README of v12), and two larger ones.
FAILED_BEFORE = ("CH3CH2OH", "C2H6CHOH", "CH3CH2NH2", "butadiene", "trans-butane", "C3H9N",
                 "smiles:c1cncnc1", "smiles:O=Cc1ccccc1")

#: Drug-like molecules of H/C/N/O for this benchmark (not reserved, not in the data lists).
DRUG_LIKE = {
    "lidocaine": "CCN(CC)CC(=O)Nc1c(C)cccc1C", "procaine": "CCN(CC)CCOC(=O)c1ccc(N)cc1",
    "metformin": "CN(C)C(=N)N=C(N)N", "salbutamol": "CC(C)(C)NCC(O)c1ccc(O)c(CO)c1",
    "atenolol": "CC(C)NCC(O)COc1ccc(CC(N)=O)cc1", "ephedrine": "CNC(C)C(O)c1ccccc1",
    "amphetamine": "CC(N)Cc1ccccc1", "mexiletine": "CC(N)COc1c(C)cccc1C", "isoniazid": "NNC(=O)c1ccncc1",
    "antipyrine": "CN1N(c2ccccc2)C(=O)C=C1C", "methylphenidate": "COC(=O)C(c1ccccc1)C1CCCCN1",
    "gabapentin": "NCC1(CC(=O)O)CCCCC1", "valproic-acid": "CCCC(CCC)C(=O)O",
    "ethosuximide": "CCC1(C)CC(=O)NC1=O", "nikethamide": "CCN(CC)C(=O)c1cccnc1",
    "piracetam": "NC(=O)CN1CCCC1=O", "levetiracetam": "CCC(C(N)=O)N1CCCC1=O",
    "metronidazole": "Cc1ncc([N+](=O)[O-])n1CCO", "tranexamic-acid": "NCC1CCC(C(=O)O)CC1",
    "dopamine": "NCCc1ccc(O)c(O)c1",
}

_RADII = {1: 0.31, 6: 0.76, 7: 0.71, 8: 0.66}


def bonds(atoms) -> set[tuple[int, int]]:
    """Pairs closer than 1.2 (r_i + r_j) (covalent radii), as index pairs i < j."""
    distances = atoms.get_all_distances()
    radii = np.array([_RADII[int(z)] for z in atoms.numbers])
    close = distances < 1.2 * (radii[:, None] + radii[None, :])
    return {(i, j) for i, j in zip(*np.nonzero(np.triu(close, 1)))}


def aligned_rmsd(a: np.ndarray, b: np.ndarray) -> float:
    """RMSD of two ``(n, 3)`` structures after the best rotation and translation (Kabsch), Angstrom."""
    a, b = a - a.mean(0), b - b.mean(0)
    u, _, vt = np.linalg.svd(a.T @ b)
    sign = np.sign(np.linalg.det(u @ vt))
    rotation = u @ np.diag([1.0, 1.0, sign]) @ vt
    return float(np.sqrt(((a @ rotation - b) ** 2).sum(1).mean()))


def xtb_calculator():
    from tblite.ase import TBLite

    from ase_mlham.model.baseline import XTB_ACCURACY

    return TBLite(method="GFN2-xTB", accuracy=XTB_ACCURACY, verbosity=0)


def run_md(atoms, calculator, steps: int, temperature: float, timestep: float, seed: int) -> dict:
    """Langevin MD from ``atoms``; what happened (see the module docstring)."""
    from ase import units
    from ase.md.langevin import Langevin
    from ase.constraints import FixCom
    from ase.md.velocitydistribution import Stationary, ZeroRotation, thermalize_momenta

    system = atoms.copy()
    system.calc = calculator
    system.set_constraint(FixCom())
    rng = np.random.default_rng(seed)
    thermalize_momenta(system, temperature_K=temperature, rng=rng)
    Stationary(system)
    ZeroRotation(system)
    dynamics = Langevin(system, timestep * units.fs, temperature_K=temperature, friction=0.01 / units.fs,
                        fixcm=False, rng=rng)
    start_bonds = bonds(atoms)
    d0 = atoms.get_all_distances()
    temperatures, stretch, collapsed, graph_changed = [], 1.0, "", False
    start = time.perf_counter()
    for step in range(steps):
        try:
            dynamics.run(1)
        except (ValueError, RuntimeError) as err:  # overlapping atoms, or an SCC that failed
            collapsed = str(err).splitlines()[0][:80]
            break
        temperatures.append(system.get_temperature())
        distances = system.get_all_distances()
        stretch = max(stretch, max(distances[i, j] / d0[i, j] for i, j in start_bonds))
        graph_changed = graph_changed or bonds(system) != start_bonds
        if distances[np.triu_indices(len(system), 1)].min() < 0.7:
            collapsed = "two atoms closer than 0.7 A"
            break
        if temperatures[-1] > 20 * temperature:
            collapsed = f"temperature {temperatures[-1]:.0f} K"
            break
    ran = len(temperatures)
    second_half = temperatures[ran // 2:] or [math.nan]
    return {"ran_fs": ran * timestep, "collapsed": collapsed, "max_temperature_K": float(max(temperatures or [math.nan])),
            "mean_temperature_K": float(np.mean(second_half)), "max_bond_stretch": float(stretch),
            "graph_changed": bool(graph_changed), "seconds_per_step": (time.perf_counter() - start) / max(ran, 1)}


def run_bfgs(atoms, calculator, fmax: float, steps: int) -> dict:
    """BFGS from ``atoms`` (the xTB minimum): converged, bonding graph kept, aligned RMSD to the start."""
    from ase.optimize import BFGS

    system = atoms.copy()
    system.calc = calculator
    try:
        converged = bool(BFGS(system, logfile=None).run(fmax=fmax, steps=steps))
        failure = ""
    except (ValueError, RuntimeError) as err:
        converged, failure = False, str(err).splitlines()[0][:80]
    return {"converged": converged, "failure": failure, "bonded": bonds(system) == bonds(atoms),
            "rmsd_A": aligned_rmsd(system.positions, atoms.positions)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--model", help="model file (default: the model shipped with ase-mlham)")
    parser.add_argument("--molecules", nargs="+", help="G2 names, structure files, SMILES (smiles:...) or the "
                        "names of DRUG_LIKE (default: FAILED_BEFORE and DRUG_LIKE)")
    parser.add_argument("--steps", type=int, default=2000, help="MD steps per molecule")
    parser.add_argument("--timestep", type=float, default=0.5, help="fs")
    parser.add_argument("--temperature", type=float, default=300.0, help="Langevin temperature, K")
    parser.add_argument("--fmax", type=float, default=0.05, help="BFGS force threshold, eV/A")
    parser.add_argument("--seed", type=int, default=0, help="seed of velocities and thermostat")
    parser.add_argument("--calculators", nargs="+", choices=("model", "GFN2-xTB"), default=["model", "GFN2-xTB"],
                        help="which to run (the model, GFN2-xTB alone, or both side by side)")
    parser.add_argument("--json", help="also write the rows as JSON here")
    args = parser.parse_args(argv)

    from ase_mlham.calculator import MLHamCalculator
    from ase_mlham.data.molecules import resolve_structure
    from ase_mlham.data.sampling import relax_structure

    calculators = {}
    if "model" in args.calculators:
        calculators["model"] = MLHamCalculator(args.model, n_excitations=0)
    if "GFN2-xTB" in args.calculators:
        calculators["GFN2-xTB"] = xtb_calculator()
    names = args.molecules or [*FAILED_BEFORE, *DRUG_LIKE]
    print(f"Langevin {args.temperature:g} K, {args.steps} x {args.timestep:g} fs, and BFGS to {args.fmax} eV/A, "
          "from the GFN2-xTB minimum")
    print(f"{'molecule':>16} {'calculator':>9} {'ran fs':>7} {'collapse':>8} {'max T':>7} {'mean T':>7} "
          f"{'stretch':>7} {'graph':>7} {'BFGS conv':>9} {'bonded':>7} {'RMSD A':>7} {'s/step':>7}")
    rows = []
    for name in names:
        spec = f"smiles:{DRUG_LIKE[name]}" if name in DRUG_LIKE else name
        structure = resolve_structure(spec, name=name if name in DRUG_LIKE else None, seed=args.seed)
        start = relax_structure(structure.atoms, xtb_calculator())
        for label, calculator in calculators.items():
            md = run_md(start, calculator, args.steps, args.temperature, args.timestep, args.seed)
            bfgs = run_bfgs(start, calculator, args.fmax, 1000)
            row = {"molecule": structure.name, "n_atoms": len(start), "calculator": label, **md,
                   **{f"bfgs_{k}": v for k, v in bfgs.items()}}
            rows.append(row)
            print(f"{structure.name[:16]:>16} {label[:9]:>9} {md['ran_fs']:>7.0f} {'YES' if md['collapsed'] else 'no':>8} "
                  f"{md['max_temperature_K']:>7.0f} {md['mean_temperature_K']:>7.0f} {md['max_bond_stretch']:>7.2f} "
                  f"{'changed' if md['graph_changed'] else 'kept':>7} {'yes' if bfgs['converged'] else 'NO':>9} "
                  f"{'yes' if bfgs['bonded'] else 'NO':>7} {bfgs['rmsd_A']:>7.3f} {md['seconds_per_step']:>7.3f}",
                  flush=True)
    for label in calculators:
        own = [r for r in rows if r["calculator"] == label]
        collapses = sum(bool(r["collapsed"]) for r in own)
        hot = sum(r["max_temperature_K"] > 1000 for r in own)
        mean_ok = sum(abs(r["mean_temperature_K"] / args.temperature - 1) <= 0.15 for r in own)
        bfgs_ok = sum(r["bfgs_converged"] and r["bfgs_bonded"] and r["bfgs_rmsd_A"] <= 0.3 for r in own)
        print(f"{label}: {len(own)} molecules, {collapses} collapses, {hot} above 1000 K, mean temperature within "
              f"15% in {mean_ok}, BFGS converged bonded within 0.3 A in {bfgs_ok}")
    if args.json:
        with open(args.json, "w") as handle:
            json.dump({"settings": vars(args), "rows": rows}, handle, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
