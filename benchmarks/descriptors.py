"""Cost of the symmetry-adapted features and their position gradients.

Clusters of pyrrole molecules (C4H4NH, 10 atoms) on a cubic lattice with random
orientations: 1, 10 and 100 molecules = 10, 100 and 1000 atoms. For each size:
the time of the features alone, of features + the gradient of a random linear
function of the on-site and pair features (one backward pass), and the same
without LODE (the only part that is not linear in the number of atoms: a
direct O(N^2) sum). The symmetrised pair blocks are computed on first access
and are not included.

Large systems allocate (and free) big tensors at every call; with glibc's default
malloc settings each one is a fresh ``mmap`` whose pages fault in again (half of
the time at 1000 atoms went to the kernel). Unless ``--no-malloc-tuning`` is
given, the script re-executes itself once with ``MALLOC_MMAP_THRESHOLD_``,
``MALLOC_TRIM_THRESHOLD_`` and ``MALLOC_TOP_PAD_`` raised, so that freed memory
is reused; production runs (MD drivers) can set the same variables.

Run: ``python benchmarks/descriptors.py [--sizes 1 10 100] [--repeats 3] [--threads 1] [--lode-sources bond-charges]``.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time

import numpy as np
import torch
from ase import Atoms
from ase.build import molecule

from ase_mlham.descriptors import DescriptorSettings, FeatureCalculator


def pyrrole_cluster(n_molecules: int, spacing: float = 5.5, seed: int = 0) -> Atoms:
    """``n_molecules`` randomly oriented pyrroles on a simple-cubic lattice (Angstrom)."""
    generator = np.random.default_rng(seed)
    template = molecule("C4H4NH")
    template.positions -= template.positions.mean(axis=0)
    side = int(np.ceil(n_molecules ** (1 / 3)))
    sites = np.array([(i, j, k) for i in range(side) for j in range(side) for k in range(side)])[:n_molecules]
    numbers, positions = [], []
    for site in sites:
        while True:
            q, r = np.linalg.qr(generator.normal(size=(3, 3)))
            candidate = template.positions @ (q * np.sign(np.diag(r))).T + spacing * site
            if not positions or np.min(np.linalg.norm(np.concatenate(positions)[:, None] - candidate[None], axis=-1)) > 1.6:
                break
        numbers.append(template.numbers)
        positions.append(candidate)
    return Atoms(numbers=np.concatenate(numbers), positions=np.concatenate(positions))


def _linear_function(features, generator: torch.Generator) -> torch.Tensor:
    """Random linear function of the on-site and (ordered) pair blocks, as a linear head would use them."""
    total = torch.zeros((), dtype=torch.float64)
    for blocks in (features.onsite, features.pair):
        for block in blocks.values():
            weights = torch.randn(block.values.shape[1:], dtype=torch.float64, generator=generator)
            total = total + (block.values * weights).sum()
    return total


def time_features(calculator: FeatureCalculator, atoms: Atoms, repeats: int) -> tuple[float, float, int]:
    """Best-of-``repeats`` seconds for features, and for features + gradient; number of ordered pairs."""
    numbers = atoms.numbers
    best_forward, best_total, n_pairs = np.inf, np.inf, 0
    for _ in range(repeats):
        positions = torch.tensor(atoms.positions, dtype=torch.float64, requires_grad=True)
        start = time.perf_counter()
        features = calculator(numbers, positions)
        middle = time.perf_counter()
        value = _linear_function(features, torch.Generator().manual_seed(0))
        weighting = time.perf_counter()
        value.backward()
        end = time.perf_counter()
        best_forward = min(best_forward, middle - start)
        best_total = min(best_total, (middle - start) + (end - weighting))
        n_pairs = len(features.pairs)
        del features, value
    return best_forward, best_total, n_pairs


#: glibc malloc settings that keep freed memory for reuse (see the module docstring).
MALLOC_TUNING = {
    "MALLOC_MMAP_THRESHOLD_": str(4 << 30),
    "MALLOC_TRIM_THRESHOLD_": str(64 << 30),
    "MALLOC_TOP_PAD_": str(1 << 30),
}


def main() -> None:
    if "--no-malloc-tuning" not in sys.argv and any(os.environ.get(k) != v for k, v in MALLOC_TUNING.items()):
        os.execve(sys.executable, [sys.executable, *sys.argv], {**os.environ, **MALLOC_TUNING})
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1, 10, 100], help="molecules per cluster")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=None, help="torch intra-op threads (default: torch's)")
    parser.add_argument("--no-malloc-tuning", action="store_true", help="keep glibc's default malloc settings")
    parser.add_argument("--lode-sources", choices=["species", "bond-charges"], default="species",
                        help="sources of the LODE potential (DescriptorSettings.lode_sources)")
    args = parser.parse_args()
    if args.threads is not None:
        torch.set_num_threads(args.threads)

    with_lode = FeatureCalculator(DescriptorSettings(lode_sources=args.lode_sources))
    without_lode = FeatureCalculator(DescriptorSettings(lode=False))
    warm = pyrrole_cluster(1)
    time_features(with_lode, warm, 1)  # Clebsch-Gordan tables and first-call overheads

    tuned = all(os.environ.get(k) == v for k, v in MALLOC_TUNING.items())
    print(f"# torch {torch.__version__}, {torch.get_num_threads()} threads, {platform.machine()}, "
          f"{os.cpu_count()} CPUs, malloc tuning {'on' if tuned else 'off'}")
    print("| atoms | ordered pairs (5 A) | features (ms) | features + gradient (ms) | "
          "f + g without LODE (ms) | f + g without LODE per atom (ms) |")
    print("|---:|---:|---:|---:|---:|---:|")
    for n_molecules in args.sizes:
        atoms = pyrrole_cluster(n_molecules)
        forward, total, n_pairs = time_features(with_lode, atoms, args.repeats)
        _, local_total, _ = time_features(without_lode, atoms, args.repeats)
        print(f"| {len(atoms)} | {n_pairs} | {1e3 * forward:.1f} | {1e3 * total:.1f} | "
              f"{1e3 * local_total:.1f} | {1e3 * local_total / len(atoms):.2f} |")


if __name__ == "__main__":
    main()
