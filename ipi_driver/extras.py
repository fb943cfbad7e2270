"""The per-step ``extras`` a driver returns to i-PI: orbital energies and the HOMO-LUMO gap.

i-PI stores the extras string of every force evaluation and, for an output
``<trajectory filename='orb' extra_type='gap_eV'> extras </trajectory>``,
parses it as JSON and writes the field named by ``extra_type`` (several fields:
``extra_type='homo_eV,lumo_eV'``). Values stay in eV: extras are not converted
by i-PI, so the unit is part of each key's name.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np

#: The keys every step returns.
EXTRA_KEYS = ("orbital_energies_eV", "homo_eV", "lumo_eV", "gap_eV")
#: The keys added when the calculator computes excited states.
EXCITATION_KEYS = ("excitation_energies_eV", "oscillator_strengths")
#: Uncertainties (eV, eV/A per atom), present when the model has them: the calculator's result names.
UNCERTAINTY_KEYS = ("energy_uncertainty", "forces_uncertainty", "orbital_energy_uncertainties", "gap_uncertainty",
                    "excitation_energy_uncertainties")


def orbital_extras(calc: Any) -> dict[str, float | list[float]]:
    """The orbital quantities of ``calc``'s last calculation, as JSON-ready Python values.

    Parameters
    ----------
    calc
        An :class:`~ase_mlham.calculator.MLHamCalculator` that has just computed a structure.

    Returns
    -------
    dict
        ``orbital_energies_eV`` (list of ``n_orbitals`` floats, ascending, eV),
        ``homo_eV``, ``lumo_eV``, ``gap_eV`` (floats, eV) and, when the calculator
        computed them, ``excitation_energies_eV`` (list, eV, ascending) and
        ``oscillator_strengths`` (list, dimensionless, same order), and the uncertainties of
        :data:`UNCERTAINTY_KEYS` (eV; ``forces_uncertainty`` per atom, eV/A).
    """
    orbital_energies = np.asarray(calc.get_eigenvalues(), dtype=np.float64).ravel()
    homo, lumo = calc.get_homo_lumo()
    extras: dict[str, float | list[float]] = {
        "orbital_energies_eV": orbital_energies.tolist(),
        "homo_eV": float(homo),
        "lumo_eV": float(lumo),
        "gap_eV": float(calc.get_homo_lumo_gap()),
    }
    # excited states when the calculator is set to compute them (n_excitations > 0), uncertainties when the
    # model has them (under the calculator's own result names); asking for them computes what is missing
    from ase.calculators.calculator import PropertyNotImplementedError

    wanted = [("excitation_energies", "excitation_energies_eV"), ("oscillator_strengths", "oscillator_strengths"),
              *((name, name) for name in UNCERTAINTY_KEYS)]
    for result, key in wanted:
        try:
            value = np.asarray(calc.get_property(result), dtype=np.float64)
        except PropertyNotImplementedError:
            continue
        extras[key] = float(value) if value.ndim == 0 else value.ravel().tolist()
    return extras


def extras_json(calc: Any) -> str:
    """:func:`orbital_extras` as the JSON string the i-PI protocol carries (floats at full precision)."""
    return json.dumps(orbital_extras(calc))
