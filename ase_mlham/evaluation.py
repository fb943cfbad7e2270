"""``mlham evaluate``: a model's errors against the reference, side by side with physics baselines.

For every frame: the model's orbital energies, energy and forces; the stored
B3LYP/STO-3G eigenvalues; GFN2-xTB orbital energies, forces and, for a model with the
GFN2-xTB energy baseline, energies with the model's per-element offsets (tblite). Energies and
forces are compared at the model's reference level (B3LYP-D4 for a model with ``dispersion``).
Errors are summarised per orbital group (:mod:`ase_mlham.metrics`), overall and per molecule.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

from ase_mlham.baselines import sto3g_orbital_energies, xtb_window
from ase_mlham.data.dataset import ReferenceFrame, molecules_of
from ase_mlham.metrics import ErrorAccumulator, format_table, table_dict
from ase_mlham.model.baseline import xtb_energy_forces
from ase_mlham.model.model import MLHamModel
from ase_mlham.progress import ProgressBar
from ase_mlham.training.targets import reference_energy_forces
from ase_mlham.uncertainty_metrics import UncertaintyAccumulator

MODEL, STO3G, XTB = "model", "B3LYP/STO-3G", "GFN2-xTB"


@dataclass
class Evaluation:
    """Accumulated errors: ``overall[method]`` and ``per_molecule[molecule][method]``."""

    overall: dict[str, ErrorAccumulator]
    per_molecule: dict[str, dict[str, ErrorAccumulator]] = field(default_factory=dict)
    uncertainty: UncertaintyAccumulator = field(default_factory=UncertaintyAccumulator)

    def table(self, title: str | None = None) -> str:
        """The overall error table (text)."""
        return format_table(self.overall, title=title)

    def molecule_table(self, groups: Sequence[str] = ("gap", "occupied_valence", "window")) -> str:
        """MAE per molecule and method for the given groups (text)."""
        methods = list(self.overall)
        header = f"{'molecule':<22}" + "".join(f"| {group + ' MAE (eV)':^{12 * len(methods)}}" for group in groups)
        sub = f"{'':<22}" + "".join("| " + "".join(f"{m[:11]:>12}" for m in methods) for _ in groups)
        lines = [header, sub, "-" * len(sub)]
        for molecule, accumulators in sorted(self.per_molecule.items()):
            cells = []
            for group in groups:
                values = []
                for method in methods:
                    stats = accumulators[method].summary()[group]
                    values.append(f"{stats.mae:12.3f}" if stats.available else f"{'n/a':>12}")
                cells.append("| " + "".join(values))
            lines.append(f"{molecule:<22}" + "".join(cells))
        return "\n".join(lines)

    def against_baseline(self) -> dict | None:
        """Per molecule, the model's energy and forces against GFN2-xTB's on the same frames (the Delta
        energy's promise: never worse than its baseline): the force MAE ratio model / xTB (median, largest
        and its molecule) and the molecules whose energy MAE exceeds xTB's. ``None`` without xTB forces."""
        import statistics

        if XTB not in self.overall:
            return None
        ratios, worse = {}, []
        for molecule, accumulators in sorted(self.per_molecule.items()):
            model, xtb = accumulators[MODEL].summary(), accumulators[XTB].summary()
            if model["forces"].available and xtb["forces"].available and xtb["forces"].mae > 0:
                ratios[molecule] = model["forces"].mae / xtb["forces"].mae
            if model["energy_per_atom"].available and xtb["energy_per_atom"].available and \
                    model["energy_per_atom"].mae > xtb["energy_per_atom"].mae:
                worse.append(molecule)
        if not ratios:
            return None
        largest = max(ratios, key=ratios.get)
        return {"molecules": len(ratios), "force_mae_ratio_median": statistics.median(ratios.values()),
                "force_mae_ratio_max": ratios[largest], "force_mae_ratio_max_molecule": largest,
                "energy_worse_than_xtb": worse}

    def baseline_line(self) -> str:
        """One line of :meth:`against_baseline` ("" when there is nothing to compare)."""
        summary = self.against_baseline()
        if summary is None:
            return ""
        worse = summary["energy_worse_than_xtb"]
        return (f"per molecule against GFN2-xTB ({summary['molecules']} molecules): force MAE ratio median "
                f"{summary['force_mae_ratio_median']:.2f}, largest {summary['force_mae_ratio_max']:.2f} "
                f"({summary['force_mae_ratio_max_molecule']}); energy MAE above xTB's: {len(worse)}"
                + (f" ({', '.join(worse)})" if worse else ""))

    def to_dict(self) -> dict:
        """JSON-ready summary (for a model card)."""
        return {
            "against_baseline": self.against_baseline(),
            "overall": table_dict(self.overall),
            "per_molecule": {name: table_dict(acc, groups=("gap", "occupied_valence", "window", "energy_per_atom",
                                                            "forces"))
                             for name, acc in sorted(self.per_molecule.items())},
            "uncertainty": self.uncertainty.summary(),
        }


def evaluate(model: MLHamModel, frames: Sequence[ReferenceFrame], baselines: bool = True,
             show_progress: bool = True) -> Evaluation:
    """Errors of ``model`` (and, with ``baselines``, of B3LYP/STO-3G and GFN2-xTB) on ``frames``."""
    methods = [MODEL] + ([STO3G, XTB] if baselines else [])
    overall = {method: ErrorAccumulator(method) for method in methods}
    per_molecule = {name: {method: ErrorAccumulator(method) for method in methods} for name in molecules_of(frames)}
    bar = ProgressBar(len(frames), "evaluating", enabled=show_progress)
    offsets = model.energy_head.offsets.detach().numpy()
    uncertainty = UncertaintyAccumulator()
    for frame in frames:
        prediction = model.predict(frame.numbers, frame.positions, forces=True)
        reference_energy, reference_forces = reference_energy_forces(frame, model.settings)
        _add_uncertainties(uncertainty, prediction, frame, reference_energy, reference_forces)
        orbitals = {MODEL: prediction.orbital_energies.detach().numpy()}
        if baselines:
            orbitals[STO3G] = sto3g_orbital_energies(frame)
            orbitals[XTB] = xtb_window(frame)
        for method, predicted in orbitals.items():
            for accumulator in (overall[method], per_molecule[frame.molecule][method]):
                accumulator.add_orbitals(predicted[: frame.n_min], frame.mo_target, frame.numbers, frame.nocc)
        for accumulator in (overall[MODEL], per_molecule[frame.molecule][MODEL]):
            accumulator.add_energy(float(prediction.energy), reference_energy, len(frame.numbers))
            accumulator.add_forces(prediction.forces.numpy(), reference_forces)
        if baselines:
            xtb_energy, xtb_forces = xtb_energy_forces(frame.numbers, frame.positions)
            if model.settings.energy_baseline is not None:  # offsets fitted with the model: xTB alone, fairly
                xtb_energy = xtb_energy + float(offsets[model.species_index(frame.numbers).numpy()].sum())
            else:  # no per-element offsets to put xTB's energies on the reference scale
                xtb_energy = None
            for accumulator in (overall[XTB], per_molecule[frame.molecule][XTB]):
                accumulator.add_energy(xtb_energy, reference_energy, len(frame.numbers))
                accumulator.add_forces(xtb_forces, reference_forces)
        bar.update(1)
    return Evaluation(overall, per_molecule, uncertainty)


def _add_uncertainties(accumulator: UncertaintyAccumulator, prediction, frame: ReferenceFrame,
                       reference_energy: float, reference_forces) -> None:
    """The (sigma, error) pairs of one frame, for the uncertainties the model gives."""
    import numpy as np

    from ase_mlham.metrics import number_of_core_orbitals

    if prediction.energy_uncertainty is not None:
        accumulator.add("energy", float(prediction.energy_uncertainty), float(prediction.energy) - reference_energy)
        accumulator.add("forces", float(prediction.forces_uncertainty.mean()),
                        float(np.abs(prediction.forces.numpy() - reference_forces).mean()))
    if prediction.gap_uncertainty is not None:
        predicted, target, nocc = prediction.orbital_energies.numpy(), frame.mo_target, frame.nocc
        accumulator.add("gap", float(prediction.gap_uncertainty),
                        float(prediction.homo_lumo_gap) - (target[nocc] - target[nocc - 1]))
        core = number_of_core_orbitals(frame.numbers)
        accumulator.add("orbital", prediction.orbital_energy_uncertainties.numpy()[core:frame.n_min],
                        predicted[core:frame.n_min] - target[core:])


def frame_ids(frames: Sequence[ReferenceFrame]) -> list[str]:
    """``"molecule/frame"`` identifiers (as stored in model metadata)."""
    return [f"{f.molecule}/{f.frame}" for f in frames]


def select_frames(frames: Sequence[ReferenceFrame], ids: Sequence[str]) -> list[ReferenceFrame]:
    """The frames whose identifier is in ``ids``."""
    wanted = set(ids)
    return [f for f, name in zip(frames, frame_ids(frames)) if name in wanted]
