"""Hyper-parameters of the ML Hamiltonian model (JSON round trip for model files)."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field

from ase_mlham.descriptors.settings import DescriptorSettings
from ase_mlham.model.baseline import ENERGY_BASELINES, XTB_ACCURACY


@dataclass(frozen=True)
class ModelSettings:
    """Everything needed to rebuild a model's architecture.

    Parameters
    ----------
    descriptor
        Feature hyper-parameters (cutoffs in Angstrom, basis sizes).
    gate_channels
        Invariant channels gating the nonlinear correction of each Hamiltonian block.
    energy_hidden
        Hidden layer widths of the per-species atomic-energy MLP.
    energy_descriptor
        Descriptor of the energy head's invariants (same species as ``descriptor``);
        ``None``: the invariants of ``descriptor``. Energies and forces want a finer
        radial/angular resolution than the Hamiltonian blocks, and only the invariants
        of this descriptor are ever computed.
    energy_baseline
        ``None``: the energy head is the whole energy. ``"GFN2-xTB"``: the energy is tblite's GFN2-xTB
        plus the energy head, a correction trained on the reference minus GFN2-xTB and damped where its
        uncertainty is large (:mod:`ase_mlham.model.baseline`, :class:`~ase_mlham.model.heads.EnergyHead`).
    dispersion
        Whether energies and forces target the reference plus its D4 dispersion (B3LYP-D4:
        ``row.energy + row.data["d4_energy"]``); required with a baseline, which carries D4 itself.
    baseline_accuracy
        tblite's SCC accuracy setting of the baseline (:data:`~ase_mlham.model.baseline.XTB_ACCURACY`).
    hamiltonian_members
        Members of the committee of Hamiltonians that gives the orbital energies' uncertainty
        (:mod:`ase_mlham.model.committee`); 0: none.
    """

    descriptor: DescriptorSettings = field(default_factory=DescriptorSettings)
    gate_channels: int = 4
    energy_hidden: tuple[int, ...] = (32, 32)
    energy_descriptor: DescriptorSettings | None = None
    energy_baseline: str | None = None
    dispersion: bool = False
    baseline_accuracy: float = XTB_ACCURACY
    hamiltonian_members: int = 0

    def __post_init__(self) -> None:
        if not isinstance(self.hamiltonian_members, int) or self.hamiltonian_members < 0 or \
                self.hamiltonian_members == 1:
            raise ValueError(f"hamiltonian_members must be 0 (no committee) or at least 2, "
                             f"got {self.hamiltonian_members!r}")
        if self.energy_baseline is not None and self.energy_baseline not in ENERGY_BASELINES:
            raise ValueError(f"energy_baseline must be None or one of {ENERGY_BASELINES}, got {self.energy_baseline!r}")
        if self.energy_baseline is not None and not self.dispersion:
            raise ValueError("an energy baseline needs dispersion=True: GFN2-xTB carries D4, so a correction to "
                             "dispersion-free B3LYP would have to learn minus a long-range dispersion")
        if not (isinstance(self.baseline_accuracy, (int, float)) and self.baseline_accuracy > 0):
            raise ValueError(f"baseline_accuracy must be positive, got {self.baseline_accuracy!r}")
        if not isinstance(self.descriptor, DescriptorSettings):
            raise TypeError(f"descriptor must be a DescriptorSettings, got {type(self.descriptor).__name__}")
        value = self.gate_channels
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ValueError(f"gate_channels must be a positive integer, got {value!r}")
        if not all(isinstance(w, int) and w > 0 for w in self.energy_hidden):
            raise ValueError(f"energy_hidden must hold positive integers, got {self.energy_hidden!r}")
        if self.energy_descriptor is not None:
            if not isinstance(self.energy_descriptor, DescriptorSettings):
                raise TypeError(f"energy_descriptor must be None or a DescriptorSettings, "
                                f"got {type(self.energy_descriptor).__name__}")
            if self.energy_descriptor.species != self.descriptor.species:
                raise ValueError(f"energy_descriptor species {self.energy_descriptor.species} differ from the "
                                 f"descriptor's {self.descriptor.species}")

    def to_dict(self) -> dict:
        """Plain JSON-serialisable form."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "ModelSettings":
        """Inverse of :meth:`to_dict`; unknown keys are an error (a file of another format)."""
        data = dict(data)
        descriptor = _descriptor_from_dict(data.pop("descriptor"))
        if data.get("energy_descriptor") is not None:
            data["energy_descriptor"] = _descriptor_from_dict(data["energy_descriptor"])
        if "energy_hidden" in data:
            data["energy_hidden"] = tuple(data["energy_hidden"])
        return cls(descriptor=descriptor, **data)


def _descriptor_from_dict(data: dict) -> DescriptorSettings:
    data = dict(data)
    data["species"] = tuple(data["species"])
    return DescriptorSettings(**data)


#: Range of the long-range (LODE) features of the presets, Angstrom: beyond the size of the
#: molecules the models are meant for (<= 20 heavy atoms), short enough that molecules 100 A
#: apart are exactly independent (size consistency).
LODE_RANGE = 12.0

_DEFAULT_DESCRIPTOR = DescriptorSettings(max_radial=4, max_angular=3, pair_max_radial=3, compressed_max_radial=2,
                                         compressed_max_angular=2, lode_max_radial=2, lode_max_angular=2,
                                         lode_cutoff=LODE_RANGE)

# finer radial (6) and angular (4) resolution for energies and forces: the linear term's force MAE on
# held-out G2 frames falls from 0.146 to 0.111 eV/A (benchmarks/energy_descriptor.py)
_ENERGY_DESCRIPTOR = dataclasses.replace(_DEFAULT_DESCRIPTOR, max_radial=6, max_angular=4)
_LOCAL_DESCRIPTOR = dataclasses.replace(_DEFAULT_DESCRIPTOR, lode=False)

#: Named architectures: :data:`DEFAULT_PRESET` is the shipped model's, ``tiny`` is for tests and smoke
#: runs (the two of :data:`PUBLIC_PRESETS`), the others are the ablations of the model's history.
PRESETS: dict[str, ModelSettings] = {
    # LODE in both descriptors, from species (the shipped models up to v9). Against local-hamiltonian on
    # the same data: the same accuracy in distribution, a trade on the larger molecules (README); but a
    # neutral neighbour within 12.5 A reads as more of the molecule: coupled by eV (far_neighbour.py)
    "lode": ModelSettings(
        descriptor=_DEFAULT_DESCRIPTOR, gate_channels=4, energy_hidden=(64, 64), energy_descriptor=_ENERGY_DESCRIPTOR),
    # no long-range (LODE) features in the Hamiltonian's descriptor: its blocks see 5.5 A at most, so the
    # orbital energies of molecules further apart are those of each alone; with LODE a methane 8 A away
    # shifted trans-butane's by 0.5 eV, where GFN2-xTB says 1 meV (benchmarks/far_neighbour.py). The energy
    # head keeps LODE: without it the closed-form start's validation force error was 0.53 eV/A, not 0.16
    "local-hamiltonian": ModelSettings(
        descriptor=_LOCAL_DESCRIPTOR,
        gate_channels=4, energy_hidden=(64, 64), energy_descriptor=_ENERGY_DESCRIPTOR),
    # the shipped model's (v11): LODE in both descriptors, from bond-charge increments instead of species.
    # Every channel is neutral in each molecule, so a neutral neighbour enters through its bond dipoles
    # (1/r^2), not as more of the molecule's own atoms (1/r). Against lode on v9's data and epochs: the
    # same held-out G2 accuracy, larger molecules' gap 0.27 eV instead of 0.35 and energy 0.8 eV instead
    # of 5.2, and a methane 6 A from trans-butane changes the energy by 0.12 eV instead of 3.3 (README)
    "neutral-lode": ModelSettings(
        descriptor=dataclasses.replace(_DEFAULT_DESCRIPTOR, lode_sources="bond-charges"),
        gate_channels=4, energy_hidden=(64, 64),
        energy_descriptor=dataclasses.replace(_ENERGY_DESCRIPTOR, lode_sources="bond-charges")),
    # no LODE at all: molecules whose nearest atoms are further apart than 5.5 A do not interact
    "no-lode": ModelSettings(
        descriptor=_LOCAL_DESCRIPTOR,
        gate_channels=4, energy_hidden=(64, 64),
        energy_descriptor=dataclasses.replace(_ENERGY_DESCRIPTOR, lode=False)),
    # the shipped model's (v13, v14): neutral-lode's Hamiltonian; energy = GFN2-xTB + a linear correction on local
    # invariants (4 radial, l <= 3, no LODE: xTB carries the long range), trained on B3LYP-D4 minus GFN2-xTB
    # and damped where its uncertainty is large, so that on chemistry it has not seen it falls back to xTB
    "delta-xtb": ModelSettings(
        descriptor=dataclasses.replace(_DEFAULT_DESCRIPTOR, lode_sources="bond-charges"),
        gate_channels=4, energy_hidden=(),
        energy_descriptor=dataclasses.replace(_ENERGY_DESCRIPTOR, max_radial=4, max_angular=3, lode=False),
        energy_baseline="GFN2-xTB", dispersion=True, hamiltonian_members=8),
    "tiny": ModelSettings(
        descriptor=DescriptorSettings(max_radial=2, max_angular=2, pair_max_radial=2, compressed_max_radial=1,
                                      compressed_max_angular=1, lode_max_radial=1, lode_max_angular=1,
                                      lode_cutoff=LODE_RANGE),
        gate_channels=2, energy_hidden=(8,)),
}

#: The preset of the shipped default model, and ``mlham train``'s.
DEFAULT_PRESET = "delta-xtb"

#: The presets ``mlham train --preset`` offers: the shipped architecture and the smoke-run one. The others
#: are ablations of the model's history, trained with ``python benchmarks/train_preset.py`` (the same
#: options, every preset).
PUBLIC_PRESETS = (DEFAULT_PRESET, "tiny")


def with_energy_range(settings: ModelSettings, cutoff: float | None = None,
                      switch_width: float | None = None) -> ModelSettings:
    """``settings`` with the energy descriptor's cutoff and/or the width of its cosine switch replaced (Angstrom).

    The energy correction sees neighbours up to ``cutoff``, weighted from 1 down to 0 over the last
    ``switch_width``: a wide switch weighs the 2.5-4 A shell (what conformers differ in) down smoothly
    without dropping it (``benchmarks/energy_range.py``). Only for settings with their own energy
    descriptor without LODE (whose switches would change with the width too), e.g. ``delta-xtb``'s.
    """
    if cutoff is None and switch_width is None:
        return settings
    energy = settings.energy_descriptor
    if energy is None or energy.lode:
        raise ValueError("the energy range can only be set for a model with its own, local energy descriptor "
                         "(e.g. the delta-xtb preset); this one's energy head reads "
                         + ("the Hamiltonian's features" if energy is None else "LODE features"))
    cutoff = energy.cutoff if cutoff is None else cutoff
    width = energy.cutoff_width if switch_width is None else switch_width
    if not (math.isfinite(cutoff) and cutoff > 0):
        raise ValueError(f"the energy cutoff must be a positive distance in Angstrom, got {cutoff!r}")
    if not (math.isfinite(width) and 0 < width < cutoff):
        raise ValueError(f"the energy switch width must be positive and below the energy cutoff ({cutoff:g} A), "
                         f"got {width!r}")
    # only the on-site invariants of this descriptor are computed and its LODE is off, so its pair and
    # LODE ranges and LODE bond cutoff are unused; they are moved only as far as validation needs
    lode_cutoff = energy.lode_cutoff
    if lode_cutoff is not None and lode_cutoff <= cutoff:
        lode_cutoff = None
    return dataclasses.replace(settings, energy_descriptor=dataclasses.replace(
        energy, cutoff=cutoff, cutoff_width=width, pair_cutoff=max(energy.pair_cutoff, cutoff),
        lode_cutoff=lode_cutoff, lode_bond_cutoff=max(energy.lode_bond_cutoff, width + 0.5)))
