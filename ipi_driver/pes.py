r"""i-PI PES driver for ase-mlham: energy, forces and orbital extras of an isolated molecule.

Use it with i-PI's own Python client, which loads this file by path::

    i-pi-py_driver -m custom -P "$(python -c 'import ipi_driver.pes as p; print(p.__file__)')" \
        -u -a mlham -o template=init.xyz,model=model.pt

or with ``mlham-ipi`` (:mod:`ipi_driver.cli`), which builds the same class.

Options (``-o key=value,...``; i-PI casts values to int/float/bool/str):

``template`` (required)
    A structure file ``ase.io.read`` understands (usually i-PI's ``init.xyz``); only
    its elements, their order and ``info['charge']``/``info['spin']`` are used.
``model``
    Path to a model file written by ``mlham train``; absent: the shipped default model.
``device``, ``dtype``, ``n_excitations``
    As for :class:`~ase_mlham.calculator.MLHamCalculator` (``cpu``, ``float64``; absent
    ``n_excitations``: the calculator's default; ``n_excitations=0`` switches the sTDA
    excited states, and their extras, off).
``verbose``
    i-PI's verbosity flag (kept for the driver contract).

Every option is checked, the template read, the model loaded and one trial
evaluation of the template done in the constructor, so a malformed ``-o`` fails
with a clear ``ValueError``/``FileNotFoundError`` before the client connects.

Units and the cell
------------------
The socket carries atomic units: positions (Bohr) arrive as ``(n_atoms, 3)``;
the potential (Hartree), forces ``(n_atoms, 3)`` (Hartree/Bohr) and virial
``(3, 3)`` (Hartree) go back. They are converted with i-PI's own constants
(:mod:`ipi.utils.units`), so the round trip is exact to rounding.

The model describes isolated (gas-phase) molecules only. i-PI always sends a
cell; it is ignored and the molecule built with ``pbc=False``. The energy of an
isolated molecule does not depend on the cell, :math:`\partial E/\partial h = 0`,
so the virial returned is exactly zero. Hence: keep ``pbc='false'`` on the
``<ffsocket>`` (i-PI's default; wrapping positions into the box would split the
molecule), and do not use barostats or cell optimisation with this driver; the
pressure i-PI reports is only its kinetic part.

Extras
------
Every evaluation returns the JSON of :func:`ipi_driver.extras.orbital_extras`:
``orbital_energies_eV``, ``homo_eV``, ``lumo_eV``, ``gap_eV`` (and
``excitation_energies_eV``, ``oscillator_strengths`` when the calculator computes them).
"""

# Absolute imports only: i-PI loads this file as a top-level module named ``pes``.
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
from ase import Atoms
from ipi.pes.dummy import Dummy_driver
from ipi.utils.units import unit_to_internal, unit_to_user

from ipi_driver.extras import extras_json

__DRIVER_NAME__ = "mlham"
__DRIVER_CLASS__ = "MLHamDriver"

#: The ``-o`` keys this driver accepts.
OPTIONS = ("template", "model", "device", "dtype", "n_excitations", "verbose")


def _check_options(positional: tuple, unknown: dict, template: Any) -> None:
    """Reject positional values, unknown keys and a missing template, naming the accepted keys."""
    accepted = ", ".join(OPTIONS)
    if positional:
        raise ValueError(f"mlham driver: options must be given as key=value (accepted keys: {accepted}); "
                         f"got the positional value(s) {', '.join(repr(a) for a in positional)}")
    if unknown:
        raise ValueError(f"mlham driver: unknown option(s) {', '.join(repr(k) for k in sorted(unknown))}; "
                         f"accepted keys: {accepted}")
    if template is None:
        raise ValueError("mlham driver: the option template=<structure file> is required "
                         "(e.g. -o template=init.xyz, the file i-PI starts from)")


def read_template(path: str | os.PathLike) -> Atoms:
    """The template molecule (elements, their order, charge/spin info), ``ValueError`` if unreadable."""
    import ase.io

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"mlham driver: template file {str(path)!r} does not exist")
    try:
        atoms = ase.io.read(path)
    except Exception as err:  # ASE raises many types for one meaning: not a structure file
        raise ValueError(f"mlham driver: cannot read template {str(path)!r} with ase.io.read: "
                         f"{type(err).__name__}: {err}") from None
    if isinstance(atoms, list):  # some readers return every frame; the first one is the template
        atoms = atoms[0]
    if len(atoms) == 0:
        raise ValueError(f"mlham driver: template {str(path)!r} contains no atoms")
    return atoms


class MLHamDriver(Dummy_driver):
    """i-PI PES evaluating an :class:`~ase_mlham.calculator.MLHamCalculator` (see the module docstring).

    Parameters
    ----------
    template
        Structure file giving the elements in i-PI's atom order.
    model
        Model file path, an ``MLHamModel``, or ``None`` for the shipped default model.
    device, dtype, n_excitations
        Passed to :class:`~ase_mlham.calculator.MLHamCalculator` (``n_excitations=None``: its default).
    verbose
        i-PI's verbosity flag.
    """

    def __init__(self, *positional: Any, template: str | os.PathLike | None = None,
                 model: Any = None, device: Any = "cpu", dtype: Any = "float64", n_excitations: Any = None,
                 verbose: bool = False, **unknown: Any) -> None:
        # i-PI passes every -o token through: catch what the signature alone would not name clearly
        _check_options(positional, unknown, template)
        self.template_path = str(template)
        # i-PI casts option values, so a model file named e.g. "1" arrives as an int
        self.model = str(model) if isinstance(model, (int, float)) and not isinstance(model, bool) else model
        self.device, self.dtype, self.n_excitations = device, dtype, n_excitations  # checked by the calculator
        # the base class stores the flag and calls check_parameters()
        super().__init__(verbose=bool(verbose))

    def check_parameters(self) -> None:
        """Read the template, load the model and evaluate the template once (fails before connecting)."""
        from ase_mlham.calculator import MLHamCalculator

        template = read_template(self.template_path)
        self.numbers = template.numbers.copy()
        # only the electronic state is taken from the template's info; i-PI comments fill it with junk
        self.info = {key: template.info[key] for key in ("charge", "spin") if key in template.info}
        # n_excitations only when given: the calculator's default stays the single source of truth
        optional = {} if self.n_excitations is None else {"n_excitations": self.n_excitations}
        self.calculator = MLHamCalculator(model=self.model, device=self.device, dtype=self.dtype, **optional)
        try:
            self._evaluate(template.get_positions())
        except ValueError as err:
            raise ValueError(f"mlham driver: template {self.template_path!r} cannot be computed: {err}") from None

    def _evaluate(self, positions: np.ndarray) -> tuple[float, np.ndarray]:
        """Energy (eV) and forces ``(n_atoms, 3)`` (eV/Angstrom) at ``positions`` (Angstrom)."""
        atoms = Atoms(numbers=self.numbers, positions=positions, pbc=False, info=dict(self.info))
        atoms.calc = self.calculator
        return atoms.get_potential_energy(), atoms.get_forces()

    def compute_structure(self, cell: np.ndarray, pos: np.ndarray) -> tuple[float, np.ndarray, np.ndarray, str]:
        """One structure in i-PI's atomic units.

        Parameters
        ----------
        cell
            ``(3, 3)`` cell (Bohr, vectors as columns); ignored: the molecule is isolated.
        pos
            ``(n_atoms, 3)`` (or flat ``3 n_atoms``) positions, Bohr.

        Returns
        -------
        pot, force, vir, extras
            Potential (Hartree), forces ``(n_atoms, 3)`` (Hartree/Bohr), virial
            ``(3, 3)`` (zero, see the module docstring), extras JSON string.
        """
        pos = np.asarray(pos, dtype=np.float64)
        if pos.size != 3 * len(self.numbers):
            raise ValueError(f"mlham driver: i-PI sent {pos.size // 3} atoms but the template "
                             f"{self.template_path!r} has {len(self.numbers)}")
        positions = unit_to_user("length", "angstrom", pos.reshape(-1, 3))
        energy, forces = self._evaluate(positions)
        pot = float(unit_to_internal("energy", "electronvolt", energy))
        force = np.ascontiguousarray(unit_to_internal("force", "ev/ang", forces), dtype=np.float64)
        vir = np.zeros((3, 3), dtype=np.float64)
        return pot, force, vir, extras_json(self.calculator)
