"""Wall time of a PIMD step served by one ``mlham-ipi``, beads one per request or in batches (issue 24).

i-PI (>= 3.3) can hand a driver several structures per request (``<batch_size>`` on the ffsocket). The
driver computes them one after the other, so a batch saves socket round trips, not model time; this
measures how much that is worth. For each ``--batch-sizes`` value: i-PI and one driver over a UNIX
socket, ``--steps`` steps of ``--beads``-bead PIMD of ``--molecule`` (a G2 name) at 300 K, the wall
time from i-PI's start to its exit divided by the steps (model loading and the first structure
included in the first step, so use enough steps).

    OMP_NUM_THREADS=1 python benchmarks/ipi_batching.py --steps 20 --beads 4 --batch-sizes 1 4
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

INPUT = """<simulation verbosity='low' safe_stride='1000'>
  <output prefix='run'> <properties stride='1' filename='out'> [ step, potential{{electronvolt}} ] </properties> </output>
  <total_steps> {steps} </total_steps>
  <prng> <seed> 12345 </seed> </prng>
  <ffsocket name='mlham' mode='unix' pbc='false'> <address> {address} </address> <latency> 1e-4 </latency>
    {batch} </ffsocket>
  <system>
    <initialize nbeads='{beads}'> <file mode='xyz'> init.xyz </file>
      <velocities mode='thermal' units='kelvin'> 300 </velocities> </initialize>
    <forces> <force forcefield='mlham'/> </forces>
    <motion mode='dynamics'> <dynamics mode='nvt'> <timestep units='femtosecond'> 0.25 </timestep>
      <thermostat mode='pile_l'> <tau units='femtosecond'> 100 </tau> </thermostat> </dynamics> </motion>
    <ensemble> <temperature units='kelvin'> 300 </temperature> </ensemble>
  </system>
</simulation>
"""


def run(folder: Path, steps: int, beads: int, batch_size: int, model: str | None) -> float:
    """Seconds per step of one i-PI run with one driver."""
    address = f"mlham-batch-{os.getpid()}-{batch_size}"
    batch = f"<batch_size> {batch_size} </batch_size>" if batch_size > 1 else ""
    (folder / "input.xml").write_text(INPUT.format(steps=steps, address=address, batch=batch, beads=beads))
    bin_dir = Path(sys.executable).parent
    ipi_command = shutil.which("i-pi", path=str(bin_dir)) or shutil.which("i-pi")
    driver_command = shutil.which("mlham-ipi", path=str(bin_dir)) or shutil.which("mlham-ipi")
    start = time.perf_counter()
    ipi = subprocess.Popen([ipi_command, "input.xml"], cwd=folder, stdout=subprocess.DEVNULL,
                           stderr=subprocess.STDOUT)
    driver = subprocess.Popen([driver_command, "--unix", "--address", address, "--template", "init.xyz",
                               *(["--model", model] if model else []), "--connect-timeout", "60"],
                              cwd=folder, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    try:
        if ipi.wait(timeout=3600) != 0 or driver.wait(timeout=60) != 0:
            raise RuntimeError(f"i-PI or the driver failed (batch size {batch_size}) in {folder}")
    finally:
        for process in (ipi, driver):
            if process.poll() is None:
                process.kill()
    return (time.perf_counter() - start) / steps


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--molecule", default="H2O", help="G2 name (ase.build.molecule)")
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--beads", type=int, default=4)
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[1, 4])
    parser.add_argument("--model", help="model file (default: the shipped model)")
    args = parser.parse_args(argv)

    from ase.build import molecule

    print(f"{args.molecule}, {args.beads} beads, {args.steps} steps, one mlham-ipi over a UNIX socket")
    print(f"{'batch size':>10} {'s per step':>10} {'ms per bead':>11}")
    for batch_size in args.batch_sizes:
        with tempfile.TemporaryDirectory() as folder:
            atoms = molecule(args.molecule)
            lines = [f"{symbol} {x:.6f} {y:.6f} {z:.6f}" for symbol, (x, y, z) in
                     zip(atoms.get_chemical_symbols(), atoms.positions)]
            (Path(folder) / "init.xyz").write_text(  # i-PI's xyz: the cell and units in the comment line
                f"{len(atoms)}\n# CELL(abcABC): 20 20 20 90 90 90 positions{{angstrom}} cell{{angstrom}}\n"
                + "\n".join(lines) + "\n")
            seconds = run(Path(folder), args.steps, args.beads, batch_size, args.model)
        print(f"{batch_size:10d} {seconds:10.3f} {1000 * seconds / args.beads:11.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
