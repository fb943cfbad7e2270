"""Plot the HOMO-LUMO gap along an i-PI trajectory from the driver's extras.

Usage (after ``./run.sh`` or ``./run.sh pimd``)::

    python plot_gap.py nvt      # reads nvt.orb_0, writes nvt_gap.png
    python plot_gap.py pimd     # reads pimd.orb_0 .. pimd.orb_3 (one per bead), writes pimd_gap.png

The ``orb`` files are written by ``<trajectory filename='orb' extra_type='gap_eV'> extras
</trajectory>``: one gap (eV) per output stride, step numbers in the headers.
"""

from __future__ import annotations

import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only, no display needed
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from ipi import read_trajectory  # noqa: E402


def read_gaps(prefix: str) -> list[tuple[np.ndarray, np.ndarray]]:
    """``(steps, gaps_eV)`` per bead file ``<prefix>.orb_<bead>``, in bead order."""
    files = sorted(Path().glob(f"{prefix}.orb_*"), key=lambda path: int(path.suffix.split("_")[-1]))
    if not files:
        raise SystemExit(f"no {prefix}.orb_* files here: run ./run.sh first")
    series = []
    for path in files:
        extras = read_trajectory(str(path), format="extras")
        series.append((np.atleast_1d(extras["step"]), np.atleast_1d(extras["gap_eV"]).astype(float)))
    return series


def main(prefix: str = "nvt") -> Path:
    """Plot every bead's gap (and their mean when there are several) against the MD step."""
    series = read_gaps(prefix)
    figure, axis = plt.subplots(figsize=(6, 3.5))
    for bead, (steps, gaps) in enumerate(series):
        axis.plot(steps, gaps, lw=0.8, alpha=0.6 if len(series) > 1 else 1.0, label=f"bead {bead}")
    if len(series) > 1:
        n_common = min(len(gaps) for _, gaps in series)
        mean = np.mean([gaps[:n_common] for _, gaps in series], axis=0)
        axis.plot(series[0][0][:n_common], mean, color="black", lw=1.5, label="bead average")
    axis.set_xlabel("MD step")
    axis.set_ylabel("HOMO-LUMO gap (eV)")
    axis.legend(fontsize="small")
    figure.tight_layout()
    output = Path(f"{prefix}_gap.png")
    figure.savefig(output, dpi=120)
    print(f"wrote {output}: {len(series)} bead(s), {len(series[0][1])} frames, "
          f"gap {np.mean(series[0][1]):.3f} +- {np.std(series[0][1]):.3f} eV (bead 0)")
    return output


if __name__ == "__main__":
    main(*sys.argv[1:2])
