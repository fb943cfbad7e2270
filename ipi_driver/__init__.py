"""i-PI socket driver for ase-mlham models.

Modules (each imported on demand, so ``import ipi_driver`` loads neither torch nor i-PI):

* :mod:`ipi_driver.pes` -- ``MLHamDriver``, an i-PI PES class (``__DRIVER_NAME__ = "mlham"``),
  usable as ``i-pi-py_driver -m custom -P <path of pes.py> -o template=init.xyz,model=model.pt``;
* :mod:`ipi_driver.client` -- a socket client that exits cleanly when the server goes away;
* :mod:`ipi_driver.cli` -- the ``mlham-ipi`` command;
* :mod:`ipi_driver.extras` -- the per-step JSON extras (orbital energies, HOMO, LUMO, gap, eV).

Atomic units (Bohr, Hartree) at the socket, converted with :mod:`ipi.utils.units`;
isolated molecules only: the cell is ignored and the virial is zero.
"""

from pathlib import Path

#: The file to pass to ``i-pi-py_driver -m custom -P``.
PES_FILE = Path(__file__).resolve().parent / "pes.py"

__all__ = ["PES_FILE"]
