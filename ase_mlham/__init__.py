"""ase-mlham: machine-learned minimal-basis Hamiltonians for ASE and i-PI.

``MLHamCalculator`` (the ASE calculator) and ``load_model`` (read a model file)
are imported on first use, so ``import ase_mlham`` stays light.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

__version__ = "0.1.0"

__all__ = ["MLHamCalculator", "SizeWarning", "UncertaintyWarning", "load_model", "__version__"]

if TYPE_CHECKING:  # pragma: no cover
    from ase_mlham.calculator import MLHamCalculator, SizeWarning, UncertaintyWarning
    from ase_mlham.model.io import load_model


def __getattr__(name: str):
    if name in ("MLHamCalculator", "SizeWarning", "UncertaintyWarning"):
        from ase_mlham import calculator

        return getattr(calculator, name)
    if name == "load_model":
        from ase_mlham.model.io import load_model

        return load_model
    raise AttributeError(f"module 'ase_mlham' has no attribute {name!r}")
