"""Error metrics for orbital energies, energies and forces, and their tables.

The indirect-learning target of a frame is the window of its lowest ``N_min``
large-basis MO energies (``N_min`` = number of STO-3G functions): all ``nocc``
doubly occupied orbitals plus ``N_min - nocc`` virtuals. Errors are reported
per *orbital group* of that window (:func:`orbital_groups`):

======================  ===================================================
``core``                1s of every C/N/O atom: the lowest ``n_heavy`` orbitals
``occupied_valence``    the other occupied orbitals, ``n_heavy .. nocc-1``
``virtual``             the ``N_min - nocc`` virtuals of the window
``homo``, ``lumo``      orbitals ``nocc - 1`` and ``nocc``
``gap``                 (pred LUMO - pred HOMO) - (ref LUMO - ref HOMO)
``window``              all ``N_min`` orbitals
======================  ===================================================

plus ``energy`` (eV per molecule), ``energy_per_atom`` (meV/atom) and
``forces`` (eV/Angstrom, per Cartesian component).

Frames have different window lengths; errors are accumulated frame by frame,
never truncated to the shortest. A prediction may hold NaN where a method has
no counterpart (GFN2-xTB has no core orbitals, see
:func:`ase_mlham.baselines.align_xtb_to_window`): NaNs are skipped per group
and every statistic carries the number of values it was computed from. A
group with no values at all is *not available* (``None``, printed ``n/a``),
never a made-up number.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from typing import Iterable, Mapping, Sequence

import numpy as np

#: Orbital groups in table order.
ORBITAL_GROUPS: tuple[str, ...] = ("core", "occupied_valence", "virtual", "homo", "lumo", "gap", "window")

#: Energy and force rows in table order.
ENERGY_GROUPS: tuple[str, ...] = ("energy", "energy_per_atom", "forces")

#: All rows of an error table, in order.
ALL_GROUPS: tuple[str, ...] = ORBITAL_GROUPS + ENERGY_GROUPS

#: Unit of every row.
GROUP_UNITS: dict[str, str] = {
    **{group: "eV" for group in ORBITAL_GROUPS},
    "energy": "eV",
    "energy_per_atom": "meV/atom",
    "forces": "eV/A",
}

#: Row labels of the text table.
GROUP_LABELS: dict[str, str] = {
    "core": "core (C/N/O 1s)",
    "occupied_valence": "occupied valence",
    "virtual": "virtual (window)",
    "homo": "HOMO",
    "lumo": "LUMO",
    "gap": "HOMO-LUMO gap",
    "window": "window (all N_min)",
    "energy": "energy",
    "energy_per_atom": "energy per atom",
    "forces": "forces (components)",
}


# ---------------------------------------------------------------------------
# Orbital groups of one frame
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class OrbitalGroups:
    """Index sets of the orbital groups of one frame's window (ascending energies).

    All index arrays are ``int`` arrays into a ``(n_min,)`` vector of orbital
    energies. ``lumo`` is ``None`` when the window has no virtual orbital.
    """

    n_min: int
    nocc: int
    n_core: int
    core: np.ndarray  # (n_core,)
    occupied_valence: np.ndarray  # (nocc - n_core,)
    virtual: np.ndarray  # (n_min - nocc,)
    homo: int
    lumo: int | None

    @property
    def window(self) -> np.ndarray:
        """All ``n_min`` indices."""
        return np.arange(self.n_min)

    def indices(self, group: str) -> np.ndarray:
        """Indices of ``group`` (one of :data:`ORBITAL_GROUPS` except ``gap``)."""
        if group in ("homo", "lumo"):
            value = getattr(self, group)
            return np.array([] if value is None else [value], dtype=int)
        if group in ("core", "occupied_valence", "virtual", "window"):
            return getattr(self, group)
        raise ValueError(f"group must be one of core, occupied_valence, virtual, homo, lumo, window; got {group!r}")

    def mask(self, group: str) -> np.ndarray:
        """Boolean mask of ``group``, shape ``(n_min,)``."""
        mask = np.zeros(self.n_min, dtype=bool)
        mask[self.indices(group)] = True
        return mask

    def labels(self) -> np.ndarray:
        """Group name of each orbital, shape ``(n_min,)``: core, occupied_valence or virtual."""
        labels = np.empty(self.n_min, dtype=object)
        labels[self.core] = "core"
        labels[self.occupied_valence] = "occupied_valence"
        labels[self.virtual] = "virtual"
        return labels


def number_of_core_orbitals(numbers: Sequence[int]) -> int:
    """1s core orbitals of a molecule: one per atom heavier than He (C, N, O here)."""
    return int(np.count_nonzero(np.asarray(numbers, dtype=int) > 2))


def orbital_groups(numbers: Sequence[int], nocc: int, n_min: int | None = None) -> OrbitalGroups:
    """Orbital groups of the window of one closed-shell frame.

    Parameters
    ----------
    numbers
        Atomic numbers, shape ``(n_atoms,)``.
    nocc
        Doubly occupied orbitals (HOMO = ``nocc - 1``, LUMO = ``nocc``).
    n_min
        Window length; default the number of STO-3G functions of ``numbers``.

    Examples
    --------
    Water (``n_min`` 7, ``nocc`` 5): core ``[0]``, occupied valence ``[1 2 3 4]``,
    virtual ``[5 6]``, HOMO 4, LUMO 5.
    """
    numbers = np.asarray(numbers)
    if numbers.ndim != 1:
        raise ValueError(f"numbers must be a 1-D sequence of atomic numbers, got shape {numbers.shape}")
    if n_min is None:
        from ase_mlham.basis import n_basis_functions

        n_min = n_basis_functions(numbers)
    n_min, nocc = int(n_min), int(nocc)
    n_core = number_of_core_orbitals(numbers)
    if not n_core < nocc <= n_min:
        raise ValueError(
            f"nocc must satisfy n_core < nocc <= n_min = {n_core} < nocc <= {n_min}, got nocc={nocc}"
        )
    return OrbitalGroups(
        n_min=n_min,
        nocc=nocc,
        n_core=n_core,
        core=np.arange(n_core),
        occupied_valence=np.arange(n_core, nocc),
        virtual=np.arange(nocc, n_min),
        homo=nocc - 1,
        lumo=nocc if nocc < n_min else None,
    )


# ---------------------------------------------------------------------------
# Statistics
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ErrorStats:
    """MAE, RMSE and max |error| of ``count`` values (same unit as the errors).

    With ``count == 0`` the three statistics are ``None``: not available.
    """

    mae: float | None
    rmse: float | None
    max: float | None
    count: int

    @property
    def available(self) -> bool:
        return self.count > 0

    def to_dict(self) -> dict:
        return {"mae": self.mae, "rmse": self.rmse, "max": self.max, "count": self.count}


def error_statistics(errors: Iterable[float] | np.ndarray, scale: float = 1.0) -> ErrorStats:
    """Statistics of a flat array of signed errors, NaNs skipped, each error times ``scale``."""
    values = np.asarray(list(errors) if not isinstance(errors, np.ndarray) else errors, dtype=float).ravel()
    # NaN = no counterpart (e.g. xTB core orbitals): skipped, and not counted
    values = values[~np.isnan(values)] * scale
    if values.size == 0:
        return ErrorStats(None, None, None, 0)
    absolute = np.abs(values)
    return ErrorStats(float(absolute.mean()), float(np.sqrt(np.mean(values**2))), float(absolute.max()), int(values.size))


class ErrorAccumulator:
    """Collects errors of one method, frame by frame, and summarises them per group.

    Orbital energies are added with :meth:`add_orbitals` (one frame's window,
    predictions may hold NaN), total energies with :meth:`add_energy`, forces
    with :meth:`add_forces`. :meth:`summary` returns an :class:`ErrorStats` per
    group of :data:`ALL_GROUPS`. The (prediction, reference, group) pairs are
    kept for :func:`parity_plot`.
    """

    def __init__(self, name: str = "model"):
        self.name = name
        self._errors: dict[str, list[np.ndarray]] = {group: [] for group in ALL_GROUPS}
        self._pairs: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []

    def add_orbitals(self, predicted: Sequence[float], reference: Sequence[float], numbers: Sequence[int],
                     nocc: int) -> None:
        """Add one frame's window.

        Parameters
        ----------
        predicted, reference
            Orbital energies in eV, ascending, shape ``(n_min,)`` each, aligned
            orbital by orbital; ``predicted`` may hold NaN (no counterpart).
        numbers
            Atomic numbers of the frame, shape ``(n_atoms,)``.
        nocc
            Doubly occupied orbitals of the reference.
        """
        predicted = np.asarray(predicted, dtype=float)
        reference = np.asarray(reference, dtype=float)
        if predicted.ndim != 1 or predicted.shape != reference.shape:
            raise ValueError(
                f"predicted and reference must be 1-D of equal length, got shapes {predicted.shape} "
                f"and {reference.shape}"
            )
        groups = orbital_groups(numbers, nocc, len(reference))
        error = predicted - reference
        for group in ("core", "occupied_valence", "virtual", "homo", "lumo", "window"):
            self._errors[group].append(error[groups.indices(group)])
        if groups.lumo is not None:
            gap_error = (predicted[groups.lumo] - predicted[groups.homo]) - (
                reference[groups.lumo] - reference[groups.homo])
            self._errors["gap"].append(np.array([gap_error]))
        self._pairs.append((predicted, reference, groups.labels()))

    def add_energy(self, predicted: float | None, reference: float, n_atoms: int) -> None:
        """Add one total energy (eV). ``None`` or NaN means not available and adds nothing."""
        if predicted is None or math.isnan(float(predicted)):
            return
        error = float(predicted) - float(reference)
        self._errors["energy"].append(np.array([error]))
        self._errors["energy_per_atom"].append(np.array([error / int(n_atoms)]))

    def add_forces(self, predicted: np.ndarray | None, reference: np.ndarray) -> None:
        """Add one frame's forces, ``(n_atoms, 3)`` eV/Angstrom each; ``None`` adds nothing."""
        if predicted is None:
            return
        predicted = np.asarray(predicted, dtype=float)
        reference = np.asarray(reference, dtype=float)
        if predicted.shape != reference.shape:
            raise ValueError(f"predicted forces must have shape {reference.shape}, got {predicted.shape}")
        self._errors["forces"].append((predicted - reference).ravel())

    def errors(self, group: str) -> np.ndarray:
        """All signed errors (predicted - reference) of ``group``, flat, NaNs included.

        eV, eV/Angstrom for ``forces``; ``energy_per_atom`` in eV/atom here
        (:meth:`summary` reports it in meV/atom).
        """
        if group not in self._errors:
            raise ValueError(f"group must be one of {ALL_GROUPS}, got {group!r}")
        parts = self._errors[group]
        return np.concatenate(parts) if parts else np.zeros(0)

    def summary(self) -> dict[str, ErrorStats]:
        """:class:`ErrorStats` of every group of :data:`ALL_GROUPS` (``energy_per_atom`` in meV/atom)."""
        return {
            group: error_statistics(self.errors(group), scale=1000.0 if group == "energy_per_atom" else 1.0)
            for group in ALL_GROUPS
        }

    @property
    def n_frames(self) -> int:
        """Frames whose orbitals were added."""
        return len(self._pairs)

    def orbital_pairs(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(predicted, reference, group label) of every orbital added, flat, NaNs included."""
        if not self._pairs:
            return np.zeros(0), np.zeros(0), np.zeros(0, dtype=object)
        return tuple(np.concatenate(parts) for parts in zip(*self._pairs))


# ---------------------------------------------------------------------------
# Tables and dict forms
# ---------------------------------------------------------------------------


def _summaries(methods: Mapping[str, ErrorAccumulator | Mapping[str, ErrorStats]]) -> dict[str, dict]:
    return {name: (value.summary() if isinstance(value, ErrorAccumulator) else dict(value))
            for name, value in methods.items()}


def format_table(methods: Mapping[str, ErrorAccumulator | Mapping[str, ErrorStats]],
                 groups: Sequence[str] = ALL_GROUPS, title: str | None = None, counts: bool = True,
                 precision: int = 3) -> str:
    """Plain-text error table: one row per group, one MAE/RMSE/MAX block per method.

    Parameters
    ----------
    methods
        Method name -> :class:`ErrorAccumulator` or its :meth:`~ErrorAccumulator.summary`
        (e.g. ``{"model": ..., "B3LYP/STO-3G": ..., "GFN2-xTB": ...}``), in column order.
    groups
        Rows, a subset of :data:`ALL_GROUPS`.
    counts
        Add an ``N`` column per method (values the statistics are computed from).

    Unavailable statistics print as ``n/a``. The unit of each row is in its
    own column; orbital energies are in eV.
    """
    summaries = _summaries(methods)
    width = max(8, precision + 6)
    label_width = max(len(GROUP_LABELS[g]) for g in groups)
    unit_width = max(4, max(len(GROUP_UNITS[g]) for g in groups))
    block = 3 * (width + 1) + ((7 + 1) if counts else 0)
    lines = []
    if title:
        lines.append(title)
    header1 = " " * (label_width + unit_width + 3) + "".join(
        f"| {name[:block - 2]:^{block - 2}} " for name in summaries)
    header2 = f"{'group':<{label_width}} {'unit':<{unit_width}}  " + "".join(
        "| " + " ".join(f"{c:>{width}}" for c in ("MAE", "RMSE", "MAX")) + (f" {'N':>7}" if counts else "") + " "
        for _ in summaries)
    lines += [header1.rstrip(), header2.rstrip(), "-" * len(header2.rstrip())]
    for group in groups:
        cells = []
        for summary in summaries.values():
            stats = summary.get(group, ErrorStats(None, None, None, 0))
            values = (stats.mae, stats.rmse, stats.max)
            text = " ".join(f"{'n/a':>{width}}" if v is None else f"{v:>{width}.{precision}f}" for v in values)
            if counts:
                text += f" {stats.count:>7d}"
            cells.append(f"| {text} ")
        lines.append((f"{GROUP_LABELS[group]:<{label_width}} {GROUP_UNITS[group]:<{unit_width}}  "
                       + "".join(cells)).rstrip())
    return "\n".join(lines)


def table_dict(methods: Mapping[str, ErrorAccumulator | Mapping[str, ErrorStats]],
               groups: Sequence[str] = ALL_GROUPS) -> dict:
    """JSON-serialisable form of :func:`format_table` (for a model card).

    ``{"units": {group: unit}, "methods": {name: {group: {"mae", "rmse", "max", "count"}}}}``;
    unavailable statistics are ``None`` (JSON ``null``).
    """
    summaries = _summaries(methods)
    return {
        "units": {group: GROUP_UNITS[group] for group in groups},
        "methods": {name: {group: summary.get(group, ErrorStats(None, None, None, 0)).to_dict() for group in groups}
                    for name, summary in summaries.items()},
    }


# ---------------------------------------------------------------------------
# Parity plot
# ---------------------------------------------------------------------------

_COLOURS = {"core": "tab:purple", "occupied_valence": "tab:blue", "virtual": "tab:orange"}


def parity_plot(methods: Mapping[str, ErrorAccumulator] | ErrorAccumulator, path: str | os.PathLike,
                title: str | None = None) -> None:
    """Write a PNG of predicted vs reference orbital energies (eV), coloured by group.

    One column per method; core orbitals (hundreds of eV below the valence) get a
    second row of panels so they do not squash the valence scale. NaN
    predictions (no counterpart) are left out. Draws on an Agg canvas without
    touching pyplot's global backend.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    if isinstance(methods, ErrorAccumulator):
        methods = {methods.name: methods}
    data = {name: acc.orbital_pairs() for name, acc in methods.items()}
    has_core = any(np.any((labels == "core") & ~np.isnan(pred)) for pred, _, labels in data.values())
    n_rows = 2 if has_core else 1
    figure = Figure(figsize=(4.2 * len(data), 4.0 * n_rows))
    FigureCanvasAgg(figure)
    axes = figure.subplots(n_rows, len(data), squeeze=False)
    for column, (name, (predicted, reference, labels)) in enumerate(data.items()):
        for row, kinds in enumerate([("occupied_valence", "virtual"), ("core",)][:n_rows]):
            ax = axes[row, column]
            shown = np.zeros(0)
            for kind in kinds:
                keep = (labels == kind) & ~np.isnan(predicted)
                if np.any(keep):
                    error = np.abs(predicted[keep] - reference[keep]).mean()
                    ax.scatter(reference[keep], predicted[keep], s=4, alpha=0.5, color=_COLOURS[kind],
                               label=f"{kind.replace('_', ' ')} (MAE {error:.2f} eV)")
                    shown = np.concatenate([shown, reference[keep], predicted[keep]])
            if shown.size:
                low, high = shown.min(), shown.max()
                pad = 0.05 * (high - low + 1e-9)
                ax.plot([low - pad, high + pad], [low - pad, high + pad], color="k", lw=0.8)
                ax.legend(fontsize=7, loc="upper left")
            else:
                ax.text(0.5, 0.5, "not available", ha="center", va="center", transform=ax.transAxes)
                ax.set_xticks([])
                ax.set_yticks([])
            ax.set_xlabel("reference orbital energy (eV)")
            ax.set_ylabel(f"{name} (eV)")
            if row == 0:
                ax.set_title(name)
    if title:
        figure.suptitle(title)
    figure.tight_layout()
    figure.savefig(os.fspath(path), dpi=120)
