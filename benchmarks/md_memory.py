"""Peak resident memory of MD steps of a long alkane with the shipped model, as an MD run holds it (issue 24).

One ``MLHamCalculator`` (default model, ``--excitations`` sTDA states) in this process; for each of
``--steps`` geometries (the all-trans alkane C_n H_2n+2 displaced by 0.01 A) the kernel's high-water mark is
reset (Linux ``/proc/self/clear_refs``) and forces, the gap and the excitations are computed; prints the
seconds, the peak resident memory of the whole process (``VmHWM``) and the resident memory after the step.

    OMP_NUM_THREADS=1 python benchmarks/md_memory.py --carbons 333 --excitations 10    # 1001 atoms
"""

from __future__ import annotations

import argparse
import time
import warnings

from speed import alkane, memory_mb, reset_peak_memory


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--carbons", type=int, default=333, help="carbon atoms of the alkane (333: 1001 atoms)")
    parser.add_argument("--excitations", type=int, default=10, help="sTDA states per step (0: none)")
    parser.add_argument("--steps", type=int, default=2)
    args = parser.parse_args(argv)

    import torch

    from ase_mlham.calculator import MLHamCalculator, SizeWarning, UncertaintyWarning

    torch.set_num_threads(1)
    atoms = alkane(args.carbons)
    atoms.calc = MLHamCalculator(n_excitations=args.excitations)
    print(f"{atoms.get_chemical_formula()} ({len(atoms)} atoms), {args.excitations} excitations; "
          f"resident memory with the model loaded {memory_mb('VmRSS'):.0f} MB", flush=True)
    for step in range(args.steps):
        atoms.rattle(0.01, seed=step)
        reset_peak_memory()
        start = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", SizeWarning)  # memory is measured here, not accuracy
            warnings.simplefilter("ignore", UncertaintyWarning)
            atoms.get_forces()
            atoms.calc.get_property("homo_lumo_gap", atoms)
            if args.excitations:
                atoms.calc.get_property("excitation_energies", atoms)
        print(f"step {step}: {time.perf_counter() - start:.1f} s, peak {memory_mb('VmHWM'):.0f} MB, "
              f"after {memory_mb('VmRSS'):.0f} MB", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
