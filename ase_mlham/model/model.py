"""The ML Hamiltonian model: positions -> features -> (energy, H') -> orbital energies.

One forward pass gives the total energy, the Löwdin-orthogonal minimal-basis
Hamiltonian H' and its eigenvalues; forces are minus the autograd gradient of
the energy. Everything in float64 unless the model is moved with ``.to()``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np
import torch
from torch import nn

from ase_mlham.descriptors.features import FeatureCalculator, Features
from ase_mlham.electronic import number_of_occupied_orbitals
from ase_mlham.model.baseline import xtb_energy_forces
from ase_mlham.model.committee import HamiltonianCommittee
from ase_mlham.model.blocks import BlockKey, BlockLayout, assemble, block_keys, block_layout, block_samples
from ase_mlham.model.heads import EnergyHead, HamiltonianHead
from ase_mlham.model.inputs import FeatureGroup, feature_group, gather_group_inputs, unordered_pairs
from ase_mlham.model.settings import ModelSettings


#: Unordered atom pairs whose features :meth:`MLHamModel.electronic` holds at once (~100 kB each, both
#: orders; the part's intermediates as much again): bounds its memory for large molecules, and small parts
#: are no slower (302-atom alkane, one thread: 1.3 GB and 4.1 s in one part, 0.65 GB and 2.8 s in parts
#: of 256); molecules of up to ~25 atoms take one part.
PAIRS_PER_PART = 256
#: Memory for the committee's member Hamiltonians diagonalised together (:meth:`MemberHamiltonians.orbital_energies`):
#: the 8 members of aspirin (73 orbitals) fit many times over, those of a 1000-atom molecule go one at a time.
MEMBER_BATCH_BYTES = 64 * 2**20


def _block_order(parts: dict[BlockKey, list[torch.Tensor]], samples: dict[BlockKey, list[torch.Tensor]],
                 layout: BlockLayout, n_atoms: int) -> dict[BlockKey, torch.Tensor]:
    """Per key, the values of all parts (``(..., n, 2 lambda + 1)`` each, samples ``(n, 2)``) in the
    layout's block order (by ``(i, j)``), checked against the layout's samples."""
    ordered = {}
    for key, pieces in parts.items():
        ij = torch.cat(samples[key])
        value = torch.cat(pieces, dim=-2)
        if len(pieces) > 1:
            order = torch.argsort(ij[:, 0] * n_atoms + ij[:, 1])
            ij, value = ij[order], value[..., order, :]
        if not torch.equal(ij, layout.samples[key]):
            raise RuntimeError(f"samples of {key} do not match the block layout")
        ordered[key] = value
    return ordered


@dataclass
class MemberHamiltonians:
    """The committee's H' one member at a time, ``(n_ao, n_ao)`` eV each: H' plus member ``k``'s correction.

    Only the members' block corrections are kept (``perturbations[key]`` ``(n_members, n, 2 lambda + 1)`` in
    ``layout``'s block order), not ``n_members`` dense matrices: at 1001 atoms those would be 8 x 2333^2
    doubles (350 MB, twice that while they are assembled), the blocks a fraction of it. Iterating assembles
    one member at a time.
    """

    hamiltonian: torch.Tensor  # (n_ao, n_ao)
    perturbations: dict[BlockKey, torch.Tensor]
    layout: BlockLayout

    def __len__(self) -> int:
        return int(next(iter(self.perturbations.values())).shape[0])

    def __getitem__(self, k: int) -> torch.Tensor:
        if not -len(self) <= k < len(self):
            raise IndexError(f"member {k} of a committee of {len(self)}")
        correction = assemble({key: value[k] for key, value in self.perturbations.items()}, self.layout)[0]
        return self.hamiltonian + correction

    def __iter__(self):
        return (self[k] for k in range(len(self)))

    def orbital_energies(self, max_bytes: int = MEMBER_BATCH_BYTES) -> torch.Tensor:
        """Every member's ascending eigenvalues, ``(n_members, n_ao)`` eV.

        Members are assembled and diagonalised as many at a time as fit in ``max_bytes`` (each costs
        about three ``(n_ao, n_ao)`` matrices while it is assembled and diagonalised): all at once for
        small molecules, where one call per member is mostly overhead, one at a time at 1000 atoms."""
        n_ao = self.hamiltonian.shape[-1]
        batch = max(1, min(len(self), max_bytes // (3 * n_ao * n_ao * self.hamiltonian.element_size())))
        energies = []
        for start in range(0, len(self), batch):
            chunk = {key: value[start:start + batch] for key, value in self.perturbations.items()}
            energies.append(torch.linalg.eigvalsh(self.hamiltonian + assemble(chunk, self.layout)[:, 0]))
        return torch.cat(energies)


@dataclass
class Prediction:
    """Results of one structure. Energies in eV, forces in eV/Angstrom.

    ``hamiltonian`` is H' in the Löwdin-orthogonal STO-3G basis (PySCF AO
    order), ``orbital_energies`` its ascending eigenvalues, ``nocc`` the number
    of doubly occupied orbitals. What :meth:`MLHamModel.predict` was not asked
    for is ``None``. With an energy baseline (GFN2-xTB),
    ``energy`` and ``forces`` are the baseline's plus the learned correction
    (``atomic_energies`` sum to the correction alone), ``baseline_energy`` the
    baseline's part, and ``energy_uncertainty`` the correction's LLPR uncertainty.
    """

    nocc: int
    energy: torch.Tensor | None = None  # ()
    atomic_energies: torch.Tensor | None = None  # (n_atoms,)
    hamiltonian: torch.Tensor | None = None  # (n_ao, n_ao)
    orbital_energies: torch.Tensor | None = None  # (n_ao,)
    forces: torch.Tensor | None = None  # (n_atoms, 3)
    baseline_energy: float | None = None  # eV, the GFN2-xTB part of energy (None without a baseline)
    energy_uncertainty: torch.Tensor | None = None  # () eV, of the learned correction (damped heads only)
    forces_uncertainty: torch.Tensor | None = None  # (n_atoms,) eV/Angstrom, a calibrated proxy (damped heads)
    # committee of Hamiltonians (settings.hamiltonian_members > 0): their H' (MemberHamiltonians, one
    # (n_ao, n_ao) matrix at a time), their eigenvalues (n_members, n_ao) and the calibrated uncertainties of
    # every orbital energy (n_ao,) and of the gap () in eV
    member_hamiltonians: MemberHamiltonians | None = None
    member_orbital_energies: torch.Tensor | None = None
    orbital_energy_uncertainties: torch.Tensor | None = None
    gap_uncertainty: torch.Tensor | None = None
    # the eigenvectors of H' (n_ao, n_ao), column k belongs to orbital_energies[k]: only when asked for
    # (predict(..., orbitals=True)), from the same eigensolve as the eigenvalues
    orbital_coefficients: torch.Tensor | None = None

    @property
    def homo_lumo_gap(self) -> torch.Tensor:
        """LUMO minus HOMO, eV."""
        return self.orbital_energies[self.nocc] - self.orbital_energies[self.nocc - 1]


def _probe_structure(species: Sequence[int]) -> tuple[np.ndarray, torch.Tensor]:
    """A small cluster with two atoms of every species, all within bonding distance: every
    feature block exists for it, so it tells the feature sizes."""
    numbers = np.repeat(np.asarray(species, dtype=np.int64), 2)
    rng = np.random.default_rng(0)
    positions = rng.normal(size=(len(numbers), 3))
    positions *= 1.2 / np.linalg.norm(positions, axis=1, keepdims=True).clip(0.5)
    positions += 0.3 * np.arange(len(numbers))[:, None] * np.array([[1.0, 0.7, 0.4]]) / len(numbers)
    return numbers, torch.tensor(positions, dtype=torch.float64)


class MLHamModel(nn.Module):
    """Symmetry-adapted ML minimal-basis Hamiltonian with an energy head.

    Parameters
    ----------
    settings
        Architecture hyper-parameters (:class:`ModelSettings`).
    group_sizes, n_energy_invariants
        Feature sizes; probed from the descriptor when omitted (the saved
        model stores them so loading needs no probe).
    """

    def __init__(self, settings: ModelSettings = ModelSettings(),
                 group_sizes: dict[FeatureGroup, tuple[int, int]] | None = None,
                 n_energy_invariants: int | None = None) -> None:
        super().__init__()
        self.settings = settings
        self.species = tuple(settings.descriptor.species)
        self.descriptor = FeatureCalculator(settings.descriptor)
        self.energy_descriptor = (self.descriptor if settings.energy_descriptor is None
                                  else FeatureCalculator(settings.energy_descriptor))
        self.keys = block_keys(self.species)
        if group_sizes is None or n_energy_invariants is None:
            group_sizes, n_energy_invariants = self._probe_sizes()
        self.group_sizes = dict(group_sizes)
        self.n_energy_invariants = int(n_energy_invariants)
        self.hamiltonian_head = HamiltonianHead(self.keys, self.group_sizes, settings.gate_channels)
        self.energy_head = EnergyHead(self.species, self.n_energy_invariants, settings.energy_hidden,
                                      damped=settings.energy_baseline is not None)
        self._species_lookup = {z: k for k, z in enumerate(self.species)}
        # the last structure's block layout: it depends on the elements and the pair list only, which
        # stay the same from one MD step to the next (12 ms of aspirin's 140 ms step to rebuild)
        self._last_layout: tuple[bytes, bytes, BlockLayout] | None = None
        self.committee = (HamiltonianCommittee(self.keys, self.group_sizes, settings.hamiltonian_members)
                          if settings.hamiltonian_members else None)

    def _probe_sizes(self) -> tuple[dict[FeatureGroup, tuple[int, int]], int]:
        numbers, positions = _probe_structure(self.species)
        features = self.descriptor(numbers, positions)
        inputs = gather_group_inputs(features, block_samples(numbers, unordered_pairs(features)))
        sizes = {group: (value.features.shape[2], value.invariants.shape[1]) for group, value in inputs.items()}
        missing = {feature_group(key) for key in self.keys} - set(sizes)
        if missing:
            raise RuntimeError(f"the probe structure lacks feature groups {sorted(missing)}")
        return sizes, self.energy_features(numbers, positions).shape[1]

    def species_index(self, numbers: Sequence[int]) -> torch.Tensor:
        """Position of each atom's species in :attr:`species`, ``(n_atoms,)``."""
        try:
            return torch.tensor([self._species_lookup[int(z)] for z in numbers], dtype=torch.long)
        except KeyError:
            from ase.data import chemical_symbols

            unknown = sorted({int(z) for z in numbers} - set(self.species))
            names = ", ".join(chemical_symbols[z] if 0 < z < len(chemical_symbols) else str(z) for z in unknown)
            raise ValueError(
                f"the model does not know element(s) {names}; "
                f"it supports {', '.join(chemical_symbols[z] for z in self.species)}") from None

    def features(self, numbers: Sequence[int], positions: torch.Tensor) -> Features:
        """Descriptor of one structure (positions ``(n_atoms, 3)`` Angstrom, may require grad)."""
        return self.descriptor(np.asarray(numbers, dtype=np.int64), positions)

    def energy_features(self, numbers: Sequence[int], positions: torch.Tensor) -> torch.Tensor:
        """Invariants of the energy head, ``(n_atoms, n_invariants)``; differentiable in positions.

        The on-site invariants of ``settings.energy_descriptor`` (when ``None``, of the
        Hamiltonian's descriptor: ``energy_invariants(self.features(...))``), computed alone
        (no lambda > 0 or pair features), which keeps force evaluation cheap."""
        return self.energy_descriptor.invariants(np.asarray(numbers, dtype=np.int64), positions)

    def electronic(self, numbers: Sequence[int], positions: torch.Tensor, orbitals: bool = False) -> dict:
        """H', its eigenvalues (with ``orbitals``, also its eigenvectors ``orbital_coefficients``, from one
        eigensolve) and (with a committee) the members and uncertainties of one structure.

        Nothing here needs a gradient with respect to positions, so the Hamiltonian's features are
        computed without an autograd graph. Pair features, the bulk of the memory (~50 kB per
        ordered pair), are computed :data:`PAIRS_PER_PART` unordered pairs at a time and turned into
        their blocks before the next part: memory grows with the blocks, not with the features."""
        numbers = np.asarray(numbers, dtype=np.int64)
        nocc = number_of_occupied_orbitals(numbers)
        values: dict[BlockKey, list[torch.Tensor]] = {}
        perturbations: dict[BlockKey, list[torch.Tensor]] = {}
        samples: dict[BlockKey, list[torch.Tensor]] = {}
        all_pairs = []
        parts = self.descriptor.parts(numbers, positions.detach(), PAIRS_PER_PART)  # detached: no graph
        for index, features in enumerate(parts):
            with torch.no_grad():
                pairs = unordered_pairs(features)
                part_samples = block_samples(numbers, pairs)
                if index > 0:  # on-site blocks once, from the first part
                    part_samples = {key: ij for key, ij in part_samples.items() if key.kind != "onsite"}
                inputs = gather_group_inputs(features, part_samples)
            del features  # the part's features: only the gathered inputs are needed from here
            all_pairs.append(pairs)
            for key, value in self.hamiltonian_head(inputs).items():
                values.setdefault(key, []).append(value)
                samples.setdefault(key, []).append(part_samples[key])
            if self.committee is not None:
                with torch.no_grad():
                    scaled = self.hamiltonian_head.scaled_features(inputs)
                    for key, value in self.committee.perturbations(scaled, self.keys).items():
                        perturbations.setdefault(key, []).append(value)
            del inputs
        pairs = torch.cat(all_pairs)
        layout = self._layout(numbers, pairs)
        blocks = _block_order(values, samples, layout, len(numbers))
        hamiltonian = assemble(blocks, layout)[0]
        out = {"hamiltonian": hamiltonian}
        if orbitals:
            out["orbital_energies"], out["orbital_coefficients"] = torch.linalg.eigh(hamiltonian)
        else:
            out["orbital_energies"] = torch.linalg.eigvalsh(hamiltonian)
        if self.committee is not None:
            with torch.no_grad():
                members = MemberHamiltonians(hamiltonian.detach(),
                                             _block_order(perturbations, samples, layout, len(numbers)), layout)
                member_energies = members.orbital_energies()
                gaps = member_energies[:, nocc] - member_energies[:, nocc - 1]
                out.update(member_hamiltonians=members, member_orbital_energies=member_energies,
                           orbital_energy_uncertainties=self.committee.spread(member_energies, "orbital"),
                           gap_uncertainty=self.committee.spread(gaps, "gap"))
        return out

    def _layout(self, numbers: np.ndarray, pairs: torch.Tensor) -> BlockLayout:
        """:func:`block_layout` of one structure, reused while the elements and pairs stay the same."""
        key = (numbers.tobytes(), pairs.detach().cpu().numpy().tobytes())
        if self._last_layout is None or self._last_layout[:2] != key:
            self._last_layout = (*key, block_layout([numbers], [pairs]))
        return self._last_layout[2]

    def learned_energy(self, numbers: Sequence[int], positions: torch.Tensor) -> dict:
        """The energy head's atomic energies (differentiable in ``positions``) and, for a damped head,
        the energy and per-atom force uncertainties of one structure (the baseline is not included)."""
        numbers = np.asarray(numbers, dtype=np.int64)
        species_index = self.species_index(numbers)
        energy_invariants = self.energy_features(numbers, positions)
        head = self.energy_head
        atomic_energies, variances = head.energies_and_variances(energy_invariants, species_index)
        out = {"atomic_energies": atomic_energies}
        if head.damped:
            with torch.no_grad():
                settings = self.settings.energy_descriptor or self.settings.descriptor
                out["energy_uncertainty"] = head.energy_uncertainty(energy_invariants.detach(), species_index)
                atomic_uncertainties = head.uncertainty_scale * variances.detach().clamp_min(0.0).sqrt()
                out["forces_uncertainty"] = head.force_uncertainties(
                    atomic_uncertainties, positions.detach(), settings.cutoff, settings.cutoff_width)
        return out

    def forward(self, numbers: Sequence[int], positions: torch.Tensor) -> Prediction:
        """Learned energy, H' and orbital energies of one structure (no forces, no baseline: see
        :meth:`predict`)."""
        numbers = np.asarray(numbers, dtype=np.int64)
        energy = self.learned_energy(numbers, positions)
        return Prediction(energy=energy["atomic_energies"].sum(), nocc=number_of_occupied_orbitals(numbers),
                          **energy, **self.electronic(numbers, positions))

    def predict(self, numbers: Sequence[int], positions: torch.Tensor | np.ndarray,
                forces: bool = True, energy: bool = True, hamiltonian: bool = True, orbitals: bool = False,
                baseline: Callable[[np.ndarray, np.ndarray], tuple[float, np.ndarray]] | None = None) -> Prediction:
        """What is asked of one structure: with ``energy``, the energy (the baseline's plus the learned one
        when the model has a baseline) and, with ``forces``, ``-dE/dR`` (autograd plus tblite's analytic
        gradient); with ``hamiltonian``, H', its eigenvalues and the committee's uncertainties, and with
        ``orbitals`` as well its eigenvectors from the same eigensolve. Parts not asked for are ``None``
        (and cost nothing).

        ``positions`` ``(n_atoms, 3)`` Angstrom (array or tensor; copied). The returned
        tensors are detached from the graph (plain results). ``baseline(numbers, positions)`` computes
        the baseline's energy and forces when given (e.g. a :class:`~ase_mlham.model.baseline.XTBBaseline`
        that restarts from the previous geometry); by default a fresh :func:`xtb_energy_forces`.
        """
        if not (energy or hamiltonian):
            raise ValueError("predict needs energy=True or hamiltonian=True")
        if isinstance(positions, torch.Tensor):
            positions = positions.detach().to(self.energy_head.offsets.dtype).clone()
        else:
            positions = torch.tensor(np.array(positions, dtype=np.float64), dtype=self.energy_head.offsets.dtype)
        numbers = np.asarray(numbers, dtype=np.int64)
        results: dict = {"nocc": number_of_occupied_orbitals(numbers)}
        if energy:
            self.species_index(numbers)  # unknown elements: the same error as without the energy
            with torch.set_grad_enabled(forces):
                positions.requires_grad_(forces)
                learned = self.learned_energy(numbers, positions)
                total = learned["atomic_energies"].sum()
                if forces:
                    (gradient,) = torch.autograd.grad(total, positions)
                    results["forces"] = -gradient
            positions = positions.detach()
            results.update(learned, atomic_energies=learned["atomic_energies"].detach(), energy=total.detach())
            if self.settings.energy_baseline is not None:
                if baseline is None:
                    baseline_energy, baseline_forces = xtb_energy_forces(
                        numbers, positions.cpu().numpy(), self.settings.energy_baseline, self.settings.baseline_accuracy)
                else:
                    baseline_energy, baseline_forces = baseline(numbers, positions.cpu().numpy())
                results["baseline_energy"] = baseline_energy
                results["energy"] = results["energy"] + baseline_energy
                if forces:
                    results["forces"] = results["forces"] + torch.as_tensor(baseline_forces, dtype=results["forces"].dtype)
        if hamiltonian:
            with torch.no_grad():
                results.update(self.electronic(numbers, positions, orbitals=orbitals))
        return Prediction(**results)
