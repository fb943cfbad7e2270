"""How well a model's uncertainties rank and bound its errors: calibration tables and plots.

Per quantity, frame by frame, pairs of (sigma, |error|):

``energy``
    the energy's uncertainty and absolute error, eV;
``forces``
    the mean of the per-atom force uncertainties and the frame's force MAE, eV/A;
``gap``
    the gap's uncertainty and absolute error, eV;
``orbital``
    every non-core window orbital: its uncertainty and absolute error, eV (pairs per orbital).

Reported: the Spearman rank correlation of sigma and |error|, the coverage of 1 and 2 sigma (the
fraction of errors within them; 68% and 95% for Gaussian errors with the right sigma), and the
mean |error| in sigma quintiles (a calibrated sigma has mean |error| ~ 0.8 sigma in each).
"""

from __future__ import annotations

import os
from typing import Mapping

import numpy as np

QUANTITIES = ("energy", "forces", "gap", "orbital")
UNITS = {"energy": "eV", "forces": "eV/A", "gap": "eV", "orbital": "eV"}


class UncertaintyAccumulator:
    """Collects (sigma, |error|) pairs per quantity (:data:`QUANTITIES`)."""

    def __init__(self) -> None:
        self.pairs: dict[str, list[tuple[float, float]]] = {name: [] for name in QUANTITIES}

    def add(self, quantity: str, sigma, error) -> None:
        """Add one pair (or arrays of pairs) of sigma and signed or absolute error."""
        for s, e in zip(np.atleast_1d(sigma), np.atleast_1d(error)):
            if np.isfinite(s) and np.isfinite(e):
                self.pairs[quantity].append((float(s), abs(float(e))))

    def arrays(self, quantity: str) -> tuple[np.ndarray, np.ndarray]:
        """``(sigma, |error|)`` arrays of a quantity."""
        pairs = np.array(self.pairs[quantity], dtype=float).reshape(-1, 2)
        return pairs[:, 0], pairs[:, 1]

    def summary(self) -> dict[str, dict]:
        """Per quantity with pairs: n, Spearman, 1- and 2-sigma coverage, mean sigma and |error|, quintiles."""
        from scipy.stats import spearmanr

        out = {}
        for quantity in QUANTITIES:
            sigma, error = self.arrays(quantity)
            if len(sigma) < 3:
                continue
            order = np.argsort(sigma)
            quintiles = [{"mean_sigma": float(sigma[part].mean()), "mean_abs_error": float(error[part].mean())}
                         for part in np.array_split(order, 5) if len(part)]
            out[quantity] = {
                "n": int(len(sigma)), "spearman": float(spearmanr(sigma, error).statistic),
                "coverage_1_sigma": float(np.mean(error <= sigma)), "coverage_2_sigma": float(np.mean(error <= 2 * sigma)),
                "mean_sigma": float(sigma.mean()), "mean_abs_error": float(error.mean()), "quintiles": quintiles}
        return out


def format_calibration(summary: Mapping[str, dict], title: str = "uncertainty calibration") -> str:
    """A text table of :meth:`UncertaintyAccumulator.summary`."""
    lines = [title, f"{'quantity':<10} {'n':>6} {'Spearman':>9} {'1 sigma':>8} {'2 sigma':>8} {'mean sigma':>11} "
             f"{'mean |err|':>11}  mean |err| by sigma quintile"]
    for quantity, row in summary.items():
        quintiles = " ".join(f"{q['mean_sigma']:.3g}:{q['mean_abs_error']:.3g}" for q in row["quintiles"])
        lines.append(f"{quantity:<10} {row['n']:>6} {row['spearman']:>9.2f} {row['coverage_1_sigma']:>8.0%} "
                     f"{row['coverage_2_sigma']:>8.0%} {row['mean_sigma']:>11.4g} {row['mean_abs_error']:>11.4g}  "
                     f"{quintiles} ({UNITS[quantity]}, sigma:|err|)")
    return "\n".join(lines)


def calibration_plot(accumulator: UncertaintyAccumulator, path: str | os.PathLike, title: str = "") -> None:
    """|error| against sigma per quantity (log-log), with the lines |error| = sigma and 2 sigma."""
    from matplotlib.figure import Figure

    quantities = [q for q in QUANTITIES if len(accumulator.pairs[q]) >= 3]
    figure = Figure(figsize=(4 * max(len(quantities), 1), 4), layout="constrained")
    axes = np.atleast_1d(figure.subplots(1, max(len(quantities), 1)))
    for axis, quantity in zip(axes, quantities):
        sigma, error = accumulator.arrays(quantity)
        axis.loglog(np.maximum(sigma, 1e-6), np.maximum(error, 1e-6), ".", ms=3, alpha=0.5)
        low, high = max(min(sigma.min(), error.min()), 1e-6), max(sigma.max(), error.max())
        grid = np.array([low, high])
        axis.plot(grid, grid, "k-", lw=0.8, label="|error| = sigma")
        axis.plot(grid, 2 * grid, "k--", lw=0.8, label="2 sigma")
        axis.set_xlabel(f"sigma ({UNITS[quantity]})")
        axis.set_ylabel(f"|error| ({UNITS[quantity]})")
        axis.set_title(quantity)
        axis.legend(fontsize="small")
    if title:
        figure.suptitle(title)
    figure.savefig(path, dpi=120)
