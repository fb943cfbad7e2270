#!/usr/bin/env python3
"""Write the size-series starting structures (evaluation only, never trained on) as xyz files.

n-alkanes C10, C14, C18 and all-trans polyenes C6, C12, C16 with every backbone dihedral set to 180
degrees (RDKit's embedding folds long chains at random), acenes anthracene and tetracene; MMFF-relaxed.
`mlham generate FILE --relax` then takes each to its GFN2-xTB minimum (frame 0). Needs RDKit.
usage: python data/molecules/make_series.py   (writes data/molecules/series/NAME.xyz)
"""
import os

from rdkit import Chem
from rdkit.Chem import AllChem, rdMolTransforms

SERIES = {
    "alkane-c10": "C" * 10, "alkane-c14": "C" * 14, "alkane-c18": "C" * 18,
    "polyene-c6": "C=C" + "/C=C" * 1 + "/C=C", "polyene-c12": "C=C" + "/C=C" * 4 + "/C=C",
    "polyene-c16": "C=C" + "/C=C" * 6 + "/C=C",
    "anthracene": "c1ccc2cc3ccccc3cc2c1", "tetracene": "c1ccc2cc3cc4ccccc4cc3cc2c1",
}


def structure(smiles: str):
    mol = Chem.AddHs(Chem.MolFromSmiles(smiles))
    AllChem.EmbedMolecule(mol, randomSeed=19)
    conformer = mol.GetConformer()
    carbons = [a.GetIdx() for a in mol.GetAtoms() if a.GetSymbol() == "C"]
    if not mol.GetRingInfo().NumRings():  # chain: carbons in SMILES order, every backbone dihedral anti
        for k in range(len(carbons) - 3):
            rdMolTransforms.SetDihedralDeg(conformer, *carbons[k:k + 4], 180.0)
    AllChem.MMFFOptimizeMolecule(mol, maxIters=5000)
    return mol


def main() -> None:
    here = os.path.join(os.path.dirname(os.path.abspath(__file__)), "series")
    os.makedirs(here, exist_ok=True)
    for name, smiles in SERIES.items():
        mol = structure(smiles)
        lines = [str(mol.GetNumAtoms()), f"{name} {smiles}"]
        for atom, p in zip(mol.GetAtoms(), mol.GetConformer().GetPositions()):
            lines.append(f"{atom.GetSymbol():2s} {p[0]:14.8f} {p[1]:14.8f} {p[2]:14.8f}")
        with open(os.path.join(here, f"{name}.xyz"), "w") as handle:
            handle.write("\n".join(lines) + "\n")
        print(name, Chem.rdMolDescriptors.CalcMolFormula(mol))


if __name__ == "__main__":
    main()
