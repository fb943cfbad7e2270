"""ase-mlham: machine-learned minimal-basis Hamiltonians for ASE and i-PI."""

__version__ = "0.1.0"
