"""Starting structures for reference generation: G2 names, xyz files, SMILES.

Everything here validates before anything is computed or written, so a bad
request fails fast with a message naming the problem.
"""

from __future__ import annotations

import re
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from ase import Atoms

from ase_mlham.basis import check_supported

#: Suffixes of structure files (``ase.io`` formats) that mark a missing path as a file, not a SMILES.
STRUCTURE_FILE_SUFFIXES = (".xyz", ".extxyz", ".pdb", ".cif", ".traj", ".json", ".mol", ".sdf", ".xsf", ".gen",
                           ".vasp", ".db")

#: Closest approach accepted between two atoms, Angstrom. No model trained on molecules describes atoms
#: this close (at 0.55 A the first one gave +34 eV and 325 eV/A); H2's bond (0.74 A) vibrates by 0.04 A
#: (rms at 700 K), so 0.6 keeps every thermal H2 frame.
MIN_INTERATOMIC_DISTANCE = 0.6


@dataclass(frozen=True)
class StartingStructure:
    """A named molecule to sample from.

    ``name`` is what the database's ``molecule`` key holds; ``smiles`` is the
    SMILES it was built from, or ``None``.
    """

    name: str
    atoms: Atoms
    smiles: str | None = None


#: Everyday names of molecules of ASE's G2 collection (name -> G2 key), so that
#: ``mlham md benzene`` works as well as ``mlham md C6H6``.
COMMON_NAMES = {
    "water": "H2O", "ammonia": "NH3", "methane": "CH4", "ethane": "C2H6", "propane": "C3H8",
    "butane": "trans-butane", "ethylene": "C2H4", "acetylene": "C2H2", "benzene": "C6H6",
    "pyridine": "C5H5N", "pyrrole": "C4H4NH", "furan": "C4H4O", "formaldehyde": "H2CO",
    "acetaldehyde": "CH3CHO", "acetone": "CH3COCH3", "methanol": "CH3OH", "ethanol": "CH3CH2OH",
    "formic acid": "HCOOH", "acetic acid": "CH3COOH", "hydrogen cyanide": "HCN", "acetonitrile": "CH3CN",
    "carbon dioxide": "CO2", "hydrogen peroxide": "H2O2", "hydrazine": "N2H4", "methylamine": "H3CNH2",
    "glyoxal": "OCHCHO", "ketene": "H2CCO", "acrylonitrile": "H2CCHCN", "dimethyl ether": "CH3OCH3",
}


def _looks_like_smiles(spec: str) -> bool:
    # G2 names never contain these characters, SMILES of anything larger than
    # one heavy atom almost always does; "smiles:" forces the interpretation.
    return bool(re.search(r"[=#()\[\]@/\\%]|[a-z]\d|^[CNOcno]+$", spec)) and len(spec) > 2


def resolve_structure(spec: str, name: str | None = None, seed: int = 0) -> StartingStructure:
    """Turn a command-line molecule specification into a validated structure.

    ``spec`` is, tried in this order: an existing file readable by ``ase.io``
    (xyz, extxyz, ...), ``smiles:<SMILES>``, a name of ASE's G2 collection
    (``ase.build.molecule``) or its everyday name (:data:`COMMON_NAMES`, any
    case), or a SMILES string (needs RDKit).
    """
    from ase.collections import g2

    path = Path(spec)
    if path.is_file():
        from ase.io import read

        try:
            atoms = read(path)
        except Exception as err:  # ase.io raises many types for malformed files
            raise ValueError(f"could not read structure file {spec!r}: {err}") from err
        structure = StartingStructure(name or path.stem, atoms)
    elif path.suffix.lower() in STRUCTURE_FILE_SUFFIXES or (len(path.parts) > 1 and path.parent.is_dir()):
        # a path, not a SMILES ('/' is also SMILES bond stereo, but no SMILES ends in .xyz or starts with an
        # existing directory): say the file is missing rather than that it is an invalid SMILES
        raise FileNotFoundError(f"structure file {spec!r} does not exist")
    elif spec.startswith("smiles:"):
        smiles = spec[len("smiles:"):]
        structure = StartingStructure(name or smiles, atoms_from_smiles(smiles, seed), smiles)
    elif spec in g2.names or spec.lower() in COMMON_NAMES:
        from ase.build import molecule

        structure = StartingStructure(name or spec, molecule(COMMON_NAMES.get(spec.lower(), spec)))
    elif _looks_like_smiles(spec):
        structure = StartingStructure(name or spec, atoms_from_smiles(spec, seed), spec)
    else:
        raise ValueError(
            f"unknown molecule {spec!r}: not a file, not a name of ASE's G2 collection "
            f"(e.g. H2O, C6H6, CH3CHO; see ase.collections.g2.names) or an everyday name of one "
            f"(benzene, water, ...), and not a SMILES "
            f"string (prefix it with 'smiles:' to force that reading)"
        )
    check_molecule(structure.atoms, label=structure.name)
    structure.atoms.pbc = False
    structure.atoms.cell = None
    return structure


def read_molecule_list(path: str | Path, split: str | None = None) -> list[tuple[str, str]]:
    """``(SMILES, name)`` of a molecule list file, in file order, of one split or all of them.

    One molecule per line, whitespace-separated: ``SMILES name [split [group ...]]``; blank lines and
    lines starting with ``#`` are skipped (``data/molecules/molecules.smi`` is such a file). With
    ``split``, only lines whose third column is ``split``; it is an error if none is.
    """
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"molecule list {str(path)!r} does not exist")
    entries, splits = [], set()
    for number, line in enumerate(path.read_text().splitlines(), 1):
        fields = line.split()
        if not fields or fields[0].startswith("#"):
            continue
        if len(fields) < 2:
            raise ValueError(f"{path}:{number}: expected 'SMILES name [split ...]', got {line.strip()!r}")
        line_split = fields[2] if len(fields) > 2 else None
        splits.add(line_split)
        if split is None or line_split == split:
            entries.append((fields[0], fields[1]))
    names = [name for _, name in entries]
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise ValueError(f"{path}: names used more than once: {repeated}")
    if not entries:
        known = ", ".join(sorted(s for s in splits if s)) or "none"
        raise ValueError(f"{path}: no molecules" + (f" in split {split!r} (splits: {known})" if split else ""))
    return entries


def molecule_pair(first: StartingStructure, second: StartingStructure, gap: float,
                  seed: int = 0) -> StartingStructure:
    """Two molecules side by side whose nearest atoms are ``gap`` Angstrom apart.

    ``second`` is turned by a random rotation and shifted along a random direction
    from ``first``'s centre until the shortest distance between their atoms is
    ``gap`` (to 1e-8 A). Rotation and direction are drawn from ``seed`` and the
    pair's name, ``"<first>+<second>@<gap>"``, so the same request gives the same
    geometry. Long-range features see such a pair where local ones do not: the
    reference data that teaches a model how little a neutral neighbour changes.
    """
    from scipy.spatial.distance import cdist
    from scipy.spatial.transform import Rotation

    if not (isinstance(gap, (int, float)) and gap > MIN_INTERATOMIC_DISTANCE):
        raise ValueError(f"gap must be a distance above {MIN_INTERATOMIC_DISTANCE} A, got {gap!r}")
    name = f"{first.name}+{second.name}@{gap:g}"
    rng = np.random.default_rng([seed, zlib.crc32(name.encode())])
    a = first.atoms.positions - first.atoms.positions.mean(axis=0)
    b = Rotation.random(random_state=rng).apply(second.atoms.positions - second.atoms.positions.mean(axis=0))
    direction = rng.normal(size=3)
    direction /= np.linalg.norm(direction)

    def closest(shift: float) -> float:
        return float(cdist(a, b + shift * direction).min())

    # at this shift no two atoms can be closer than gap (triangle inequality); walk in until they are
    outer = np.linalg.norm(a, axis=1).max() + np.linalg.norm(b, axis=1).max() + gap
    inner = outer
    while closest(inner) >= gap:
        inner -= 0.05
        if inner <= 0.0:
            raise ValueError(f"{name}: no shift along the drawn direction brings the molecules within {gap} A")
    outer = inner + 0.05
    while outer - inner > 1e-10:  # closest() is continuous: bisect the last crossing
        middle = 0.5 * (inner + outer)
        inner, outer = (middle, outer) if closest(middle) < gap else (inner, middle)
    atoms = Atoms(numbers=np.concatenate([first.atoms.numbers, second.atoms.numbers]),
                  positions=np.concatenate([a, b + outer * direction]))
    check_molecule(atoms, label=name)
    return StartingStructure(name, atoms)


def atoms_from_smiles(smiles: str, seed: int = 0) -> Atoms:
    """3D structure with hydrogens from a SMILES string (RDKit ETKDG + MMFF)."""
    try:
        from rdkit import Chem
        from rdkit.Chem import AllChem
    except ImportError as err:
        raise ImportError(
            "building molecules from SMILES needs RDKit: pip install rdkit "
            "(or pip install 'ase-mlham[smiles]')"
        ) from err
    mol = Chem.MolFromSmiles(smiles)
    if mol is None:
        raise ValueError(f"invalid SMILES string {smiles!r}")
    mol = Chem.AddHs(mol)
    if AllChem.EmbedMolecule(mol, randomSeed=seed) != 0:
        raise ValueError(f"RDKit could not embed a 3D structure for SMILES {smiles!r}")
    AllChem.MMFFOptimizeMolecule(mol)
    positions = mol.GetConformer().GetPositions()
    numbers = [atom.GetAtomicNum() for atom in mol.GetAtoms()]
    charge = Chem.GetFormalCharge(mol)
    if charge != 0:
        raise ValueError(f"SMILES {smiles!r} has total charge {charge}: only neutral molecules are supported")
    return Atoms(numbers=numbers, positions=positions)


def check_molecule(atoms: Atoms, label: str = "molecule", charge: float | None = None,
                   spin: float | None = None) -> None:
    """Raise ``ValueError`` unless ``atoms`` is a closed-shell neutral H/C/N/O molecule.

    Checks, in order: not empty, finite positions, no periodic boundary
    conditions, supported elements, initial charges summing to zero, an even
    electron count (when neutral), ``charge`` and ``spin`` zero, no two atoms
    closer than :data:`MIN_INTERATOMIC_DISTANCE`.
    ``charge`` and ``spin`` default to what the structure says: ``atoms.info['charge']``
    and ``atoms.info['spin']`` (as ASE's extxyz reader fills them from a file's comment
    line; 0 when absent), any initial magnetic moment counting as open shell.
    """
    if charge is None:
        charge = atoms.info.get("charge", 0)
    if spin is None:
        spin = atoms.info.get("spin", 0)
        magnetic_moments = atoms.get_initial_magnetic_moments()
        if spin == 0 and np.any(magnetic_moments != 0):
            spin = float(np.abs(magnetic_moments).sum())  # any moment means open shell
    if len(atoms) == 0:
        raise ValueError(f"{label}: no atoms")
    positions = atoms.get_positions()
    if not np.all(np.isfinite(positions)):
        raise ValueError(f"{label}: positions contain NaN or inf")
    if atoms.pbc.any():
        raise ValueError(f"{label}: periodic boundary conditions {atoms.pbc.tolist()} are not supported; "
                         "only isolated molecules (pbc=False)")
    try:
        check_supported(atoms.numbers)
    except ValueError as err:
        raise ValueError(f"{label}: {err}") from None
    initial_charge = float(atoms.get_initial_charges().sum())
    if abs(initial_charge) > 1e-6:
        raise ValueError(f"{label}: the initial charges (Atoms.get_initial_charges()) sum to {initial_charge:+g}; "
                         "only neutral molecules are supported")
    n_electrons = int(atoms.numbers.sum())
    if charge == 0 and n_electrons % 2:  # before the spin: a radical's moments are a consequence
        raise ValueError(f"{label}: odd electron count ({n_electrons}) of a neutral "
                         f"{atoms.get_chemical_formula()}; only closed-shell molecules are supported")
    if charge != 0 or spin != 0:
        raise ValueError(f"{label}: charge {charge} and spin {spin} requested; only neutral "
                         "closed-shell molecules (charge 0, spin 0) are supported")
    if len(atoms) > 1:
        from scipy.spatial.distance import pdist

        closest = float(pdist(positions).min())
        if closest < MIN_INTERATOMIC_DISTANCE:
            raise ValueError(f"{label}: two atoms are {closest:.3f} A apart, closer than the "
                             f"physical minimum {MIN_INTERATOMIC_DISTANCE} A (overlapping atoms)")
