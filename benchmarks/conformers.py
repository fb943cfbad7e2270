"""Conformer energy differences of flexible molecules never trained on (issue 20): model vs GFN2-xTB vs B3LYP-D4.

Two steps around the project's reference pipeline:

1. ``prepare``: per SMILES, RDKit embeds ``--embed`` conformers (ETKDG, seeded), GFN2-xTB relaxes each
   (BFGS to 0.02 eV/A), and the ``--keep`` lowest that differ from each other by more than 0.5 kcal/mol
   and 0.3 A RMSD (heavy atoms, aligned) are written as ``DIR/<name>-c<k>.xyz``.
2. the references, one frame each, with ``mlham generate DIR/*.xyz --frames 1 --db DB`` (B3LYP/def2-TZVP
   energy and forces plus D4), then ``evaluate``: per molecule, each conformer's energy relative to the
   reference's lowest, from the reference (B3LYP-D4), the model and GFN2-xTB; MAE over the non-lowest
   conformers in kcal/mol (the issue's bar: 1 kcal/mol). A torsion profile (``prepare-torsion``: a
   dihedral set and held fixed while GFN2-xTB relaxes the rest) is evaluated the same way, as one group.

    python benchmarks/conformers.py prepare --out runs/conformers \\
        "COCCO 2-methoxyethanol" "CCOC=O ethyl-formate" "NCCC(=O)O beta-alanine" \\
        "CC(O)C(N)C(=O)O threonine" "CN(C)CCN(C)C tmeda"
    python benchmarks/conformers.py prepare-torsion "COCCO 2-methoxyethanol" --dihedral 1 2 3 4 --out runs/torsion
    OMP_NUM_THREADS=1 mlham generate runs/conformers/*.xyz --frames 1 --db runs/conformers.db --quiet
    OMP_NUM_THREADS=1 mlham generate runs/torsion/*.xyz --frames 1 --db runs/torsion.db --quiet
    OMP_NUM_THREADS=1 python benchmarks/conformers.py evaluate runs/conformers.db runs/torsion.db
"""

from __future__ import annotations

import argparse
import re
import warnings
from collections import defaultdict
from pathlib import Path

import numpy as np
from md_stability import aligned_rmsd

#: eV -> kcal/mol.
KCAL_PER_EV = 23.060548


def prepare(entries: list[str], out: Path, embed: int, keep: int, seed: int) -> None:
    from ase import Atoms
    from ase.io import write
    from ase.optimize import BFGS
    from rdkit import Chem
    from rdkit.Chem import AllChem
    from tblite.ase import TBLite

    out.mkdir(parents=True, exist_ok=True)
    for entry in entries:
        smiles, name = entry.split()
        molecule = Chem.AddHs(Chem.MolFromSmiles(smiles))
        ids = AllChem.EmbedMultipleConfs(molecule, numConfs=embed, randomSeed=seed)
        numbers = [atom.GetAtomicNum() for atom in molecule.GetAtoms()]
        relaxed = []
        for conformer_id in ids:
            atoms = Atoms(numbers=numbers, positions=molecule.GetConformer(conformer_id).GetPositions())
            atoms.calc = TBLite(method="GFN2-xTB", verbosity=0)
            BFGS(atoms, logfile=None).run(fmax=0.02, steps=500)
            relaxed.append((atoms.get_potential_energy(), atoms.copy()))
        relaxed.sort(key=lambda item: item[0])
        chosen: list[tuple[float, Atoms]] = []
        heavy = np.array(numbers) > 1
        for energy, atoms in relaxed:
            # distinct in energy and shape: mirror images and rotamers of a methyl group are not new conformers
            if all(abs(energy - e) * KCAL_PER_EV > 0.5 and aligned_rmsd(atoms.positions[heavy], a.positions[heavy]) > 0.3
                   for e, a in chosen):
                chosen.append((energy, atoms))
            if len(chosen) == keep:
                break
        for k, (energy, atoms) in enumerate(chosen):
            write(out / f"{name}-c{k}.xyz", atoms)
        spread = [(e - chosen[0][0]) * KCAL_PER_EV for e, _ in chosen]
        print(f"{name}: {len(ids)} embedded, {len(chosen)} kept, GFN2-xTB "
              + ", ".join(f"{x:.2f}" for x in spread) + " kcal/mol")


def prepare_torsion(entry: str, dihedral: list[int], angles: list[float], out: Path, seed: int) -> None:
    """A torsion profile: the ``dihedral`` (four atom indices in SMILES order, hydrogens after) set to each
    of ``angles`` (degrees) with RDKit, then GFN2-xTB relaxation with that dihedral fixed; written as
    ``DIR/<name>-t<angle>.xyz``."""
    from ase import Atoms
    from ase.constraints import FixInternals
    from ase.io import write
    from ase.optimize import BFGS
    from rdkit import Chem
    from rdkit.Chem import AllChem, rdMolTransforms
    from tblite.ase import TBLite

    out.mkdir(parents=True, exist_ok=True)
    smiles, name = entry.split()
    molecule = Chem.AddHs(Chem.MolFromSmiles(smiles))
    AllChem.EmbedMolecule(molecule, randomSeed=seed)
    numbers = [atom.GetAtomicNum() for atom in molecule.GetAtoms()]
    energies = []
    for angle in angles:
        conformer = molecule.GetConformer()
        rdMolTransforms.SetDihedralDeg(conformer, *dihedral, float(angle))
        atoms = Atoms(numbers=numbers, positions=conformer.GetPositions())
        atoms.set_constraint(FixInternals(dihedrals_deg=[[atoms.get_dihedral(*dihedral), dihedral]]))
        atoms.calc = TBLite(method="GFN2-xTB", verbosity=0)
        BFGS(atoms, logfile=None).run(fmax=0.02, steps=500)
        energies.append(atoms.get_potential_energy())
        final = atoms.copy()
        final.set_constraint()
        write(out / f"{name}-t{int(round(angle)):03d}.xyz", final)
    print(f"{name} torsion {dihedral}: GFN2-xTB " + ", ".join(
        f"{a:g}: {(e - min(energies)) * KCAL_PER_EV:.2f}" for a, e in zip(angles, energies)) + " kcal/mol")


def relative_energies(dbs: list[str], models: list) -> dict[str, list[tuple]]:
    """Per conformer group (a molecule's conformers, or its torsion profile): rows ``(frame name,
    B3LYP-D4, GFN2-xTB, model_1, ...)`` of absolute energies in eV, one column per loaded model of
    ``models``."""
    from ase_mlham.data.dataset import read_frames
    from ase_mlham.model.baseline import xtb_energy_forces

    groups: dict[str, list] = defaultdict(list)
    for frame in [frame for db in dbs for frame in read_frames(db)]:
        if frame.d4_energy is None:
            raise SystemExit(f"frame {frame.molecule} has no D4 energy (run `mlham dispersion DB`)")
        predicted = []
        for model in models:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                predicted.append(float(model.predict(frame.numbers, frame.positions, forces=False,
                                                     hamiltonian=False).energy))
        xtb = xtb_energy_forces(frame.numbers, frame.positions)[0]
        group = re.sub(r"-[ct]\d+$", "", frame.molecule) + ("-torsion" if re.search(r"-t\d+$", frame.molecule) else "")
        groups[group].append((frame.molecule, frame.energy + frame.d4_energy, xtb, *predicted))
    return {name: sorted(rows) for name, rows in groups.items() if len(rows) >= 2}


def difference_errors(groups: dict[str, list[tuple]]) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """``(|error| kcal/mol per non-lowest conformer and column, shape (n, n_columns - 1), relative energies
    per group, shape (rows, columns))``: energies relative to the reference's lowest conformer of each group;
    column 0 is the reference, then GFN2-xTB and the models as in :func:`relative_energies`."""
    errors, relative = [], {}
    for name, rows in groups.items():
        energies = np.array([row[1:] for row in rows])
        lowest = int(np.argmin(energies[:, 0]))
        relative[name] = (energies - energies[lowest]) * KCAL_PER_EV
        keep = np.arange(len(rows)) != lowest
        errors.append(np.abs(relative[name][keep, 1:] - relative[name][keep, :1]))
    return np.concatenate(errors), relative


def evaluate(dbs: list[str], model_path: str | None) -> int:
    from ase_mlham.calculator import DEFAULT_MODEL_PATH
    from ase_mlham.model.io import load_model

    groups = relative_energies(dbs, [load_model(model_path or DEFAULT_MODEL_PATH)])
    errors, relative = difference_errors(groups)
    print(f"{'conformer':>24} {'B3LYP-D4':>9} {'model':>7} {'GFN2-xTB':>9}   (kcal/mol, relative to the reference's lowest)")
    for name in sorted(groups):
        for row, energies in zip(groups[name], relative[name]):
            print(f"{row[0]:>24} {energies[0]:9.2f} {energies[2]:7.2f} {energies[1]:9.2f}")
    print(f"MAE over {len(errors)} conformer energy differences: model {errors[:, 1].mean():.2f}, "
          f"GFN2-xTB {errors[:, 0].mean():.2f} kcal/mol (max {errors[:, 1].max():.2f}, {errors[:, 0].max():.2f})")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="step", required=True)
    p = sub.add_parser("prepare", help="xTB conformers of SMILES entries ('SMILES name') as xyz files")
    p.add_argument("entries", nargs="+", metavar="'SMILES NAME'")
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--embed", type=int, default=30, help="RDKit conformers embedded per molecule")
    p.add_argument("--keep", type=int, default=3, help="distinct lowest conformers kept per molecule")
    p.add_argument("--seed", type=int, default=7)
    t = sub.add_parser("prepare-torsion", help="a torsion profile of one 'SMILES NAME' entry as xyz files")
    t.add_argument("entry", metavar="'SMILES NAME'")
    t.add_argument("--dihedral", type=int, nargs=4, required=True, help="atom indices in SMILES order")
    t.add_argument("--angles", type=float, nargs="+", default=[0, 30, 60, 90, 120, 150, 180])
    t.add_argument("--out", type=Path, required=True)
    t.add_argument("--seed", type=int, default=7)
    e = sub.add_parser("evaluate", help="relative conformer energies of a reference database")
    e.add_argument("dbs", nargs="+", metavar="DB")
    e.add_argument("--model", help="model file (default: the shipped model)")
    args = parser.parse_args(argv)
    if args.step == "prepare":
        prepare(args.entries, args.out, args.embed, args.keep, args.seed)
        return 0
    if args.step == "prepare-torsion":
        prepare_torsion(args.entry, args.dihedral, args.angles, args.out, args.seed)
        return 0
    return evaluate(args.dbs, args.model)


if __name__ == "__main__":
    raise SystemExit(main())
