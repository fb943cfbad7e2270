"""Thermal absorption spectrum of a molecule: sTDA excitations along Langevin MD, broadened and averaged.

Runs ``ase_mlham.md.run_md`` (what ``mlham md`` does) with 10 sTDA excitations per
step, prints the lowest states of the first frame and the S1 statistics, and
writes the spectrum (``ase_mlham.spectrum``, what ``mlham spectrum`` does).

    python examples/absorption_spectrum.py                                  # the shipped model, butadiene
    python examples/absorption_spectrum.py --model tiny.pt --molecule H2CO --steps 50 --out h2co_md
"""

from __future__ import annotations

import argparse
from pathlib import Path

from ase.build import molecule

from ase_mlham import MLHamCalculator
from ase_mlham.md import MDSettings, run_md
from ase_mlham.spectrum import broaden, plot_spectrum, read_sticks


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", help="model file (default: the model shipped with ase-mlham)")
    parser.add_argument("--molecule", default="butadiene", help="G2 name (ase.build.molecule)")
    parser.add_argument("--steps", type=int, default=200, help="MD steps")
    parser.add_argument("--temperature", type=float, default=300.0, help="K")
    parser.add_argument("--width", type=float, default=0.2, help="Gaussian FWHM, eV")
    parser.add_argument("--out", default="spectrum_md", help="output folder")
    args = parser.parse_args()

    atoms = molecule(args.molecule)
    calculator = MLHamCalculator(args.model, n_excitations=10)
    atoms.calc = calculator
    atoms.get_potential_energy()
    energies, strengths = calculator.get_excitations()
    print(f"{args.molecule} at its G2 geometry, sTDA (a_x = 0.20, B3LYP):")
    for state, (energy, strength) in enumerate(zip(energies, strengths), start=1):
        print(f"  S{state:<2d} {energy:7.3f} eV  f = {strength:.4f}")

    result = run_md(atoms, args.out, MDSettings(steps=args.steps, temperature=args.temperature),
                    calculator=calculator)
    s1 = result.column("s1_eV")
    print(f"S1 along {args.steps} steps: {s1.mean():.3f} +- {s1.std():.3f} eV")
    sticks = read_sticks(args.out)  # the excitations.csv just written: every state of every step
    spectrum = broaden(sticks, args.width)
    path = Path(args.out) / "spectrum.png"
    plot_spectrum(spectrum, sticks, path, title=f"{args.molecule}, {args.temperature:g} K, {sticks.n_frames} frames")
    peak = spectrum.energies[spectrum.molar_absorptivity.argmax()]
    print(f"absorption maximum at {peak:.3f} eV; wrote {path}")


if __name__ == "__main__":
    main()
