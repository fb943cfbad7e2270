"""Unit conversions used across the package.

The values are those the reference data were computed with (``shared/DATA.md``),
so that databases written by :mod:`ase_mlham.data` and the shared ones agree to
the last digit. They differ from ``ase.units`` in the 8th significant figure.
"""

#: Hartree in eV (CODATA 2018).
HARTREE_TO_EV = 27.211386245988

#: Bohr radius in Angstrom, as used by PySCF for geometries (``pyscf.lib.param.BOHR``).
BOHR_TO_ANGSTROM = 0.52917721092

#: eV/Angstrom per Hartree/Bohr: forces.
HARTREE_PER_BOHR_TO_EV_PER_ANGSTROM = HARTREE_TO_EV / BOHR_TO_ANGSTROM
