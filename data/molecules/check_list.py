#!/usr/bin/env python3
"""Check the molecule list of the reference data and print its coverage table (needs RDKit).

usage:
    python data/molecules/check_list.py                  # check molecules.smi, print the coverage table
    python data/molecules/check_list.py --assign         # (once) candidates.txt -> molecules.smi

Checks, per molecule: RDKit parses and sanitises it (valence), only H/C/N/O, neutral, closed shell
(no radical electrons, even electron count), 2-12 heavy atoms; across the list: no duplicate canonical
SMILES or name, no reserved molecule of the data issue (canonical SMILES, and the bonding graph that
the stop hook compares), no molecule whose bonding graph is already in the project's databases
(``../shared/data/*.db``, ``data/*.db.xz``, every row but those of the list's own molecules, generated
from it). Exits 1 on any problem.

``--assign`` turns the hand-curated ``candidates.txt`` (``SMILES name group``) into ``molecules.smi``
(``SMILES name split group``): the splits by molecule, fixed before any training, then the
molecules in generation order.

* Every molecule with more than :data:`LARGEST_TRAINING` heavy atoms goes to ``test`` or
  ``validation`` (two in three to test, drawn with :data:`SEED`), so both splits hold molecules larger
  than any training molecule.
* The others are interleaved group by group (a seeded shuffle within each group, then ordered by
  (rank + 1/2) / group size), and the first ones fill ``test`` up to :data:`N_TEST` and ``validation``
  up to :data:`N_VALIDATION`: groups are represented in proportion to their size, and a group of a
  few molecules keeps them for training.
* ``train`` molecules are ordered greedily by coverage: each next molecule is the one whose
  chemical features (functional groups, ring types, atom environments: element, aromaticity,
  hybridisation and neighbours) are least covered by those before it (weight 1 / (1 + count)^2 per
  feature), smaller molecules first on ties, so the first hundred already cover most of the ground.
  Test and validation come first in the file, since they are generated first.
"""

from __future__ import annotations

import argparse
import glob
import re
import lzma
import math
import os
import sqlite3
import struct
import sys
import tempfile
import zlib
from collections import Counter, defaultdict

from rdkit import Chem, RDLogger

RDLogger.DisableLog("rdApp.*")

HERE = os.path.dirname(os.path.abspath(__file__))
REPOSITORY = os.path.dirname(os.path.dirname(HERE))
SEED = 19
N_TEST = 45
N_VALIDATION = 25
LARGEST_TRAINING = 10  # heavy atoms; larger molecules are kept for test and validation
SPLITS = ("test", "validation", "train")

#: The reserved molecules of the data issue (independent evaluation only).
RESERVED = {
    "aspirin": "CC(=O)Oc1ccccc1C(=O)O", "paracetamol": "CC(=O)Nc1ccc(O)cc1",
    "caffeine": "Cn1c(=O)c2c(ncn2C)n(C)c1=O", "ibuprofen": "CC(C)Cc1ccc(C(C)C(=O)O)cc1",
    "serotonin": "NCCc1c[nH]c2ccc(O)cc12", "nicotine": "CN1CCCC1c1cccnc1", "glycine": "NCC(=O)O",
    "alanine": "CC(N)C(=O)O", "cytosine": "Nc1cc[nH]c(=O)n1", "adenine": "Nc1ncnc2[nH]cnc12",
    "histamine": "NCCc1c[nH]cn1", "uracil": "O=c1cc[nH]c(=O)[nH]1", "indole": "c1ccc2[nH]ccc2c1",
    "imidazole": "c1c[nH]cn1", "naphthalene": "c1ccc2ccccc2c1", "azulene": "c1ccc2cccc-2cc1",
    "phenol": "Oc1ccccc1", "aniline": "Nc1ccccc1", "acetophenone": "CC(=O)c1ccccc1",
    "cyclohexane": "C1CCCCC1", "octatetraene": "C=CC=CC=CC=C", "decapentaene": "C=CC=CC=CC=CC=C",
    "octane": "CCCCCCCC", "dodecane": "CCCCCCCCCCCC", "hexadecane": "CCCCCCCCCCCCCCCC",
    "dipeptide": "CC(=O)NCC(=O)NC",
}

#: Functional groups of the coverage table (SMARTS).
FUNCTIONAL_GROUPS = {
    "alcohol": "[OX2H][CX4]", "phenol": "[OX2H]c", "ether": "[OD2]([#6;!$(C=O)])[#6;!$(C=O)]",
    "aldehyde": "[CX3H1](=O)[#6]", "ketone": "[#6][CX3](=O)[#6]", "carboxylic acid": "[CX3](=O)[OX2H1]",
    "ester": "[#6][CX3](=O)[OX2][#6]", "anhydride": "C(=O)OC(=O)", "amide": "[CX3](=O)[NX3]",
    "lactam/lactone": "[R][CX3;R](=O)[N,O;R]", "carbamate": "[NX3][CX3](=O)[OX2]",
    "urea": "[NX3][CX3](=O)[NX3]", "amine 1": "[NX3;H2;!$(NC=[O,N]);!$(N[a]);!$(NN);!$(NO)][#6]",
    "amine 2": "[NX3;H1;!$(NC=[O,N]);!$(NN);!$(NO)]([#6])[#6]",
    "amine 3": "[NX3;H0;!$(NC=[O,N]);!$(NN);!$(NO);!$([N+])]([#6])([#6])[#6]",
    "aromatic amine": "[NX3;!$(NC=O)]c", "imine": "[CX3]=[NX2;!$(N=N);!$(N-O)]",
    "amidine/guanidine": "[NX3][CX3]=[NX2]", "oxime": "C=N[OH]", "hydrazine/hydrazone": "[NX3][NX3,NX2]",
    "azo": "[#6]N=N[#6]", "nitrile": "C#N", "isocyanate/carbodiimide": "N=C=[O,N]",
    "nitro": "[N+](=O)[O-]", "nitroso": "[#6,#7,#8]N=O", "N-oxide": "[#7+][O-]", "hydroxylamine": "[NX3][OX2]",
    "peroxide": "OO", "ketene": "C=C=O", "alkene": "[CX3]=[CX3]", "alkyne": "C#C",
    "aromatic ring": "a1aaaaa1", "amino acid": "[NX3][CX4][CX3](=O)[OX2H1]",
}


def ring_types(mol) -> list[str]:
    """Ring labels: size, aromatic or not, and the ring's heteroatoms (e.g. '5 aromatic N O')."""
    labels = []
    info = mol.GetRingInfo()
    for ring in info.AtomRings():
        atoms = [mol.GetAtomWithIdx(i) for i in ring]
        hetero = sorted(a.GetSymbol() for a in atoms if a.GetSymbol() != "C")
        aromatic = all(a.GetIsAromatic() for a in atoms)
        fused = any(info.NumAtomRings(i) > 1 for i in ring)
        labels.append(f"{len(ring)}-ring{' aromatic' if aromatic else ''}{' fused' if fused else ''}"
                      f"{' ' + ''.join(hetero) if hetero else ''}")
    return labels


def atom_environments(mol) -> set[str]:
    """Atom types: element, aromaticity, hybridisation and sorted neighbour elements (H included)."""
    with_h = Chem.AddHs(mol)
    out = set()
    for atom in with_h.GetAtoms():
        if atom.GetAtomicNum() == 1:
            continue
        neighbours = "".join(sorted(n.GetSymbol() for n in atom.GetNeighbors()))
        out.add(f"{atom.GetSymbol()}{'ar' if atom.GetIsAromatic() else ''}:{atom.GetHybridization()}:{neighbours}")
    return out


def graph_fingerprint(mol) -> tuple[str, ...]:
    """'X:neighbours' of each heavy atom, sorted: the bonding graph the stop hook compares."""
    with_h = Chem.AddHs(mol)
    return tuple(sorted(a.GetSymbol() + ":" + "".join(sorted(n.GetSymbol() for n in a.GetNeighbors()))
                        for a in with_h.GetAtoms() if a.GetAtomicNum() != 1))


_RADII = {1: 0.31, 6: 0.76, 7: 0.71, 8: 0.66}
_SYMBOL = {1: "H", 6: "C", 7: "N", 8: "O"}


def geometry_fingerprint(numbers, positions) -> tuple[str, ...]:
    """The same fingerprint from a geometry: bonds where d < 1.2 (r_i + r_j), as the stop hook does."""
    out = []
    for i, zi in enumerate(numbers):
        if zi == 1 or zi not in _RADII:
            continue
        neighbours = [_SYMBOL.get(zj, "?") for j, zj in enumerate(numbers) if j != i and zj in _RADII
                      and math.dist(positions[i], positions[j]) < 1.2 * (_RADII[zi] + _RADII[zj])]
        out.append(_SYMBOL[zi] + ":" + "".join(sorted(neighbours)))
    return tuple(sorted(out))


def database_fingerprints(own: set[str] = frozenset()) -> dict[tuple[str, ...], str]:
    """Bonding graphs of every molecule in the project's databases -> 'file: molecule', leaving out the
    molecules named in ``own`` (the list's own molecules, generated from it), also as the conformers
    (``<name>-c<k>``) and torsion angles (``<name>-t<angle>``) of data/conformers-test.db.xz and
    torsion-test.db.xz."""
    paths = sorted(glob.glob(os.path.join(REPOSITORY, "..", "shared", "data", "*.db")))
    paths += sorted(glob.glob(os.path.join(REPOSITORY, "data", "*.db.xz")))
    found = {}
    for path in paths:
        source = path
        if path.endswith(".xz"):
            with tempfile.NamedTemporaryFile(suffix=".db", delete=False) as tmp:
                tmp.write(lzma.open(path).read())
            source = tmp.name
        connection = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
        try:
            for numbers, positions, kvp in connection.execute(
                    "select numbers, positions, key_value_pairs from systems"):
                z = struct.unpack(f"{len(numbers) // 4}i", numbers)
                p = struct.unpack(f"{len(positions) // 8}d", positions)
                name = kvp.split('"molecule": "')[1].split('"')[0] if '"molecule"' in kvp else "?"
                if name in own or re.sub(r"-[ct]\d+$", "", name) in own:
                    continue
                key = geometry_fingerprint(z, [p[3 * k:3 * k + 3] for k in range(len(z))])
                found.setdefault(key, f"{os.path.basename(path)}: {name}")
        finally:
            connection.close()
            if source != path:
                os.unlink(source)
    return found


def read_list(path: str, n_columns: int) -> list[list[str]]:
    rows = []
    with open(path) as handle:
        for number, line in enumerate(handle, 1):
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            fields = line.split()
            if len(fields) != n_columns:
                sys.exit(f"{path}:{number}: expected {n_columns} columns, got {len(fields)}: {line!r}")
            rows.append(fields)
    return rows


def check(rows: list[tuple[str, str]]) -> tuple[list[str], dict]:
    """Problems of the (smiles, name) rows, and each name's RDKit molecule."""
    problems, mols, seen_smiles, seen_names = [], {}, {}, set()
    reserved_smiles = {Chem.CanonSmiles(s): name for name, s in RESERVED.items()}
    reserved_graphs = {graph_fingerprint(Chem.MolFromSmiles(s)): name for name, s in RESERVED.items()}
    existing = database_fingerprints({name for _, name in rows})
    for smiles, name in rows:
        mol = Chem.MolFromSmiles(smiles)
        if mol is None:
            problems.append(f"{name}: RDKit cannot parse or sanitise {smiles!r} (valence?)")
            continue
        mols[name] = mol
        elements = {a.GetSymbol() for a in mol.GetAtoms()} - {"H", "C", "N", "O"}
        if elements:
            problems.append(f"{name}: elements {sorted(elements)} outside H/C/N/O")
        if Chem.GetFormalCharge(mol) != 0:
            problems.append(f"{name}: total charge {Chem.GetFormalCharge(mol)}")
        radicals = sum(a.GetNumRadicalElectrons() for a in mol.GetAtoms())
        electrons = sum(a.GetAtomicNum() for a in Chem.AddHs(mol).GetAtoms())
        if radicals or electrons % 2:
            problems.append(f"{name}: open shell ({radicals} radical electrons, {electrons} electrons)")
        heavy = mol.GetNumHeavyAtoms()
        if not 2 <= heavy <= 12:
            problems.append(f"{name}: {heavy} heavy atoms, outside 2-12")
        canonical = Chem.MolToSmiles(mol)
        if canonical in seen_smiles:
            problems.append(f"{name}: duplicate of {seen_smiles[canonical]} ({canonical})")
        seen_smiles[canonical] = name
        if name in seen_names:
            problems.append(f"{name}: name used twice")
        seen_names.add(name)
        if canonical in reserved_smiles:
            problems.append(f"{name}: is the reserved molecule {reserved_smiles[canonical]}")
        graph = graph_fingerprint(mol)
        if graph in reserved_graphs:
            problems.append(f"{name}: has the bonding graph of the reserved molecule {reserved_graphs[graph]}")
        if graph in existing:
            problems.append(f"{name}: its bonding graph is already in {existing[graph]}")
    return problems, mols


def features(mol) -> set[str]:
    out = {f"group {g}" for g, smarts in FUNCTIONAL_GROUPS.items()
           if mol.HasSubstructMatch(Chem.MolFromSmarts(smarts))}
    out |= {f"ring {r}" for r in ring_types(mol)}
    out |= {f"atom {a}" for a in atom_environments(mol)}
    return out


def coverage_order(names: list[str], mols: dict) -> list[str]:
    """Greedy order: next the molecule whose features are least covered so far (see module doc)."""
    counts: Counter = Counter()
    left = sorted(names)
    order = []
    feats = {name: features(mols[name]) for name in names}
    while left:
        best = max(left, key=lambda n: (sum(1.0 / (1 + counts[f]) ** 2 for f in feats[n]),
                                        -mols[n].GetNumHeavyAtoms(), n))
        order.append(best)
        left.remove(best)
        counts.update(feats[best])
    return order


def _draw(name: str) -> int:
    return zlib.crc32(f"{SEED}:{name}".encode())


def assign(candidates: list[list[str]]) -> list[tuple[str, str, str, str]]:
    """(smiles, name, split, group) rows of molecules.smi from the candidates (see module doc)."""
    problems, mols = check([(s, n) for s, n, _ in candidates])
    if problems:
        sys.exit("\n".join(problems))
    group = {name: g for _, name, g in candidates}
    smiles = {name: s for s, name, _ in candidates}
    split = {}
    large = sorted((n for n in mols if mols[n].GetNumHeavyAtoms() > LARGEST_TRAINING), key=_draw)
    for k, name in enumerate(large):
        split[name] = "validation" if k % 3 == 2 else "test"
    members = defaultdict(list)
    for name in sorted(mols, key=_draw):
        if name not in split:
            members[group[name]].append(name)
    interleaved = sorted(((rank + 0.5) / len(names), g, name) for g, names in members.items()
                         for rank, name in enumerate(names))
    quota = {"test": N_TEST - sum(s == "test" for s in split.values()),
             "validation": N_VALIDATION - sum(s == "validation" for s in split.values())}
    for _, _, name in interleaved:
        if quota["test"] > 0:
            split[name], quota["test"] = "test", quota["test"] - 1
        elif quota["validation"] > 0:
            split[name], quota["validation"] = "validation", quota["validation"] - 1
        else:
            split[name] = "train"
    rows = []
    for which in SPLITS:
        names = [n for n in mols if split[n] == which]
        ordered = coverage_order(names, mols) if which == "train" else sorted(
            names, key=lambda n: (mols[n].GetNumHeavyAtoms(), n))
        rows += [(smiles[n], n, which, group[n]) for n in ordered]
    return rows


def coverage_table(rows: list[list[str]], mols: dict) -> str:
    """Markdown: molecules per functional group, ring type and heavy-atom count, per split."""
    def table(title: str, key_of) -> list[str]:
        counts = defaultdict(Counter)
        for _, name, which, _ in rows:
            for key in key_of(mols[name]):
                counts[key][which] += 1
        lines = [f"| {title} | " + " | ".join(SPLITS) + " | first 100 train |", "|---|" + "---:|" * 4]
        first = {name for _, name, which, _ in [r for r in rows if r[2] == "train"][:100]}
        for key in sorted(counts, key=lambda k: (-sum(counts[k].values()), str(k))):
            in_first = sum(1 for _, name, which, _ in rows if name in first and key in key_of(mols[name]))
            lines.append(f"| {key} | " + " | ".join(str(counts[key][s]) for s in SPLITS) + f" | {in_first} |")
        return lines

    groups = lambda m: {g for g, s in FUNCTIONAL_GROUPS.items() if m.HasSubstructMatch(Chem.MolFromSmarts(s))}
    rings = lambda m: set(ring_types(m)) or {"acyclic"}
    heavy = lambda m: {f"{m.GetNumHeavyAtoms():2d} heavy atoms"}
    totals = Counter(which for _, _, which, _ in rows)
    out = [f"{len(rows)} molecules: " + ", ".join(f"{totals[s]} {s}" for s in SPLITS), ""]
    for title, key_of in (("functional group", groups), ("ring type", rings), ("size", heavy)):
        out += table(title, key_of) + [""]
    train = [r[1] for r in rows if r[2] == "train"]
    feats_all = set().union(*(features(mols[n]) for n in train))
    feats_100 = set().union(*(features(mols[n]) for n in train[:100]))
    out.append(f"The first 100 training molecules hold {len(feats_100)} of the {len(feats_all)} chemical features "
               "(functional groups, ring types, atom environments) of all training molecules.")
    return "\n".join(out)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--assign", action="store_true", help="write molecules.smi from candidates.txt")
    args = parser.parse_args()
    target = os.path.join(HERE, "molecules.smi")
    if args.assign:
        rows = assign(read_list(os.path.join(HERE, "candidates.txt"), 3))
        with open(target, "w") as handle:
            handle.write("# SMILES name split group: written by `python data/molecules/check_list.py --assign`\n"
                         "# from candidates.txt; splits by molecule fixed before any training; generation order\n")
            for row in rows:
                handle.write(" ".join(row) + "\n")
    rows = read_list(target, 4)
    bad_splits = [name for _, name, which, _ in rows if which not in SPLITS]
    problems, mols = check([(s, n) for s, n, _, _ in rows])
    problems += [f"{name}: unknown split" for name in bad_splits]
    largest_training = max(mols[n].GetNumHeavyAtoms() for _, n, w, _ in rows if w == "train" and n in mols)
    for which in ("test", "validation"):
        if not any(mols[n].GetNumHeavyAtoms() > largest_training for _, n, w, _ in rows if w == which and n in mols):
            problems.append(f"no {which} molecule is larger than the largest training molecule")
    if problems:
        print("\n".join(problems))
        return 1
    print(coverage_table(rows, mols))
    return 0


if __name__ == "__main__":
    sys.exit(main())
