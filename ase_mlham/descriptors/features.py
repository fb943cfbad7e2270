r"""Entry point: every block of symmetry-adapted features the heads need.

``FeatureCalculator(settings)(numbers, positions)`` (or ``.from_atoms(atoms)``)
returns :class:`Features`:

* ``onsite[(lam, sigma)]``: samples = atoms; families

  - ``"nu2"``: lambda-SOAP :math:`|\rho_i^{\otimes 2}; \sigma; \lambda\mu\rangle`
    (species-resolved, each unordered channel pair once),
  - ``"nu3"``: :math:`|\tilde\rho_i^{\otimes 3}; \sigma; \lambda\mu\rangle` from the
    species-summed compressed density (triplets centre + two neighbours;
    separates the power-spectrum-degenerate environments),
  - ``"lode"``: :math:`|\tilde\rho_i^{[0,1]} \otimes V_i; \sigma; \lambda\mu\rangle` (if ``settings.lode``);

* ``pair[(lam, sigma)]``: samples = ordered pairs (i, j), i != j, within
  ``pair_cutoff``; families ``"pair"`` (:math:`|\rho_i^{[0,1]} \otimes g_{ij}\rangle`)
  and ``"decorated"`` (:math:`|\tilde\rho_i \otimes g_{ij} \otimes \tilde\rho_j\rangle`);
* ``pair_symmetric`` / ``pair_antisymmetric``: :math:`(F_{ij} \pm F_{ji})/\sqrt2` of
  same-species pairs, samples (i, j) with i < j (computed on first access);
* ``density`` (nu = 1 coefficients) and ``lode_potential``.

Every block value has shape ``(n_samples, 2 lam + 1, n_properties)``; under a
rotation R (``r -> R r``) it becomes ``wigner_d_real(lam, R) @ value`` and
under inversion ``sigma * (-1)**lam * value``. Units: Angstrom; features are
differentiable with respect to ``positions`` (the neighbour lists are not, and
need not be: every feature goes smoothly to zero at each cutoff).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Iterator

import numpy as np
import torch

from ase_mlham.validation import check_numbers_and_positions

from .density import compressed_density_set, density_coefficients, density_set
from .equivariants import EquivariantSet, tensor_product
from .lode import (bond_charge_sources, lode_coefficients, lode_feature_set, lode_pair_coefficients, lode_reach,
                   lode_set, pair_sources, source_labels, species_sources)
from .neighbors import neighbor_list
from .pairs import pair_density_set, pair_feature_sets, symmetrise_pairs
from .radial import GaussianTypeBasis
from .settings import DescriptorSettings

__all__ = ["FeatureBlock", "Features", "FeatureCalculator", "compute_features"]

Key = tuple[int, int]


@dataclass(frozen=True)
class FeatureBlock:
    """One ``(lam, sigma)`` block: values plus the bookkeeping of samples and properties.

    Attributes
    ----------
    values
        ``(n_samples, 2 lam + 1, n_properties)``.
    samples
        ``(n_samples, len(sample_names))`` int64: atom index, or (first, second) atom of a pair.
    sample_names
        ``("atom",)`` or ``("first_atom", "second_atom")``.
    lam, sigma
        Degree and parity (``sigma = +1`` proper, ``-1`` pseudo-tensor).
    families
        Property slice of each family, in order (e.g. ``{"nu2": slice(0, 1500), ...}``).
    properties
        Per family: ``(names, labels)`` with labels ``(n_family_properties, len(names))`` int64.
    """

    values: torch.Tensor
    samples: np.ndarray
    sample_names: tuple[str, ...]
    lam: int
    sigma: int
    families: dict[str, slice]
    properties: dict[str, tuple[tuple[str, ...], np.ndarray]]

    def family(self, name: str) -> torch.Tensor:
        """The values of one family, ``(n_samples, 2 lam + 1, n_family_properties)``."""
        return self.values[..., self.families[name]]


@dataclass(frozen=True)
class Features:
    """All features of one structure; see the module docstring."""

    numbers: np.ndarray  # (n_atoms,)
    settings: DescriptorSettings
    density: torch.Tensor  # (n_atoms, n_species, max_radial, (max_angular + 1)**2)
    onsite: dict[Key, FeatureBlock]
    pairs: np.ndarray  # (n_pairs, 2) ordered pairs within pair_cutoff
    pair: dict[Key, FeatureBlock]
    lode_potential: torch.Tensor | None = None  # (n_atoms, n_lode_channels, lode_max_radial, (lode_max_angular+1)**2)

    @functools.cached_property
    def _symmetrised(self) -> tuple[dict[Key, FeatureBlock], dict[Key, FeatureBlock]]:
        symmetric, antisymmetric = {}, {}
        first, second = self.pairs[:, 0], self.pairs[:, 1]
        for key, block in self.pair.items():
            plus, minus, samples = symmetrise_pairs(block.values, first, second, self.numbers)
            names = block.sample_names
            symmetric[key] = FeatureBlock(plus, samples, names, *key, block.families, block.properties)
            antisymmetric[key] = FeatureBlock(minus, samples, names, *key, block.families, block.properties)
        return symmetric, antisymmetric

    @property
    def pair_symmetric(self) -> dict[Key, FeatureBlock]:
        """``(F_ij + F_ji) / sqrt 2`` for same-species pairs i < j (computed on first access)."""
        return self._symmetrised[0]

    @property
    def pair_antisymmetric(self) -> dict[Key, FeatureBlock]:
        """``(F_ij - F_ji) / sqrt 2`` for same-species pairs i < j (computed on first access)."""
        return self._symmetrised[1]

    def all_blocks(self) -> dict[str, dict[Key, FeatureBlock]]:
        """The four block dictionaries by name."""
        return {
            "onsite": self.onsite,
            "pair": self.pair,
            "pair_symmetric": self.pair_symmetric,
            "pair_antisymmetric": self.pair_antisymmetric,
        }


def _assemble(
    families: dict[str, EquivariantSet],
    samples: np.ndarray,
    sample_names: tuple[str, ...],
    max_lambda: int,
    labels: dict,
) -> dict[Key, FeatureBlock]:
    """Concatenate the families of each ``(lam, sigma)`` into one :class:`FeatureBlock`.

    ``labels`` maps ``(family, key)`` to ``(names, properties)``: filled from
    families that carry their labels, read for families built without them.
    """
    blocks = {}
    for lam in range(max_lambda + 1):
        for sigma in (1, -1):
            parts, slices, properties, start = [], {}, {}, 0
            for name, equivariants in families.items():
                if (lam, sigma) not in equivariants.blocks:
                    continue
                value = equivariants.blocks[(lam, sigma)]
                pieces = value if isinstance(value, list) else [value]
                width = sum(piece.shape[2] for piece in pieces)
                parts.extend(pieces)
                slices[name] = slice(start, start + width)
                if equivariants.properties:
                    labels[(name, (lam, sigma))] = (equivariants.names, equivariants.properties[(lam, sigma)])
                properties[name] = labels[(name, (lam, sigma))]
                start += width
            if not parts:
                continue
            values = torch.cat(parts, dim=2) if len(parts) > 1 else parts[0]
            blocks[(lam, sigma)] = FeatureBlock(values, samples, sample_names, lam, sigma, slices, properties)
    return blocks


class FeatureCalculator:
    """Symmetry-adapted features of molecules (no periodic boundaries).

    Parameters
    ----------
    settings
        Hyper-parameters; defaults sized for organic H/C/N/O molecules.
    """

    def __init__(self, settings: DescriptorSettings | None = None) -> None:
        if settings is None:
            settings = DescriptorSettings()
        if not isinstance(settings, DescriptorSettings):
            raise TypeError(f"settings must be a DescriptorSettings, got {type(settings).__name__}")
        self.settings = settings
        self.density_basis = GaussianTypeBasis(settings.max_radial, settings.max_angular, settings.cutoff)
        self.pair_basis = GaussianTypeBasis(settings.pair_max_radial, settings.max_angular, settings.pair_cutoff)
        self.lode_basis = GaussianTypeBasis(settings.lode_max_radial, settings.lode_max_angular, settings.cutoff)
        # property labels depend on the settings only: built on the first call, then reused
        self._labels: dict | None = None

    def _validate(self, numbers, positions) -> np.ndarray:
        array = check_numbers_and_positions(numbers, positions)
        if len(array) == 0:
            raise ValueError("numbers must hold at least one atom, got none")
        unknown = sorted(set(array.tolist()) - set(self.settings.species))
        if unknown:
            raise ValueError(f"numbers contains species {unknown} outside settings.species={self.settings.species}")
        return array

    def from_atoms(self, atoms, dtype: torch.dtype = torch.float64) -> Features:
        """Features of an ``ase.Atoms`` (non-periodic); positions become a float64 tensor."""
        if hasattr(atoms, "pbc") and np.any(atoms.pbc):
            raise ValueError(f"atoms must be non-periodic (pbc all False), got pbc={atoms.pbc.tolist()}")
        positions = torch.tensor(atoms.get_positions(), dtype=dtype)
        return self(atoms.get_atomic_numbers(), positions)

    def _densities(self, numbers: np.ndarray, positions: torch.Tensor):
        """nu = 1 coefficients, their species-resolved and compressed sets, the LODE potential."""
        settings = self.settings
        device = positions.device
        lookup = {z: index for index, z in enumerate(settings.species)}
        species_index = torch.as_tensor([lookup[int(z)] for z in numbers], dtype=torch.long, device=device)
        n_species = len(settings.species)
        detached = positions.detach().cpu().numpy().astype(np.float64)
        first_np, second_np = neighbor_list(detached, settings.cutoff)
        first, second = torch.as_tensor(first_np, device=device), torch.as_tensor(second_np, device=device)
        coefficients = density_coefficients(
            positions, species_index, first, second, n_species, self.density_basis,
            settings.cutoff, settings.cutoff_width, settings.gaussian_width,
        )
        density = density_set(coefficients, settings.species)
        compressed = compressed_density_set(
            coefficients, settings.compressed_max_radial, settings.compressed_max_angular
        )
        lode_potential = None
        if settings.lode and settings.lode_cutoff is not None:  # a pair list within reach: O(N)
            reach = lode_reach(settings.lode_sources, settings.lode_cutoff, settings.lode_bond_cutoff)
            lode_first, lode_second = (torch.as_tensor(index, device=device)
                                       for index in neighbor_list(detached, reach))
            charges = pair_sources(positions, species_index, n_species, lode_first, lode_second,
                                   settings.lode_sources, settings.lode_cutoff, settings.cutoff_width,
                                   settings.lode_bond_cutoff)
            lode_potential = lode_pair_coefficients(positions, lode_first, lode_second, charges, self.lode_basis,
                                                    settings.lode_gaussian_width)
        elif settings.lode:
            if settings.lode_sources == "species":
                sources = species_sources(positions, species_index, n_species, settings.lode_cutoff,
                                          settings.cutoff_width)
            else:
                sources = bond_charge_sources(positions, species_index, n_species, settings.lode_bond_cutoff,
                                              settings.lode_cutoff, settings.cutoff_width)
            lode_potential = lode_coefficients(positions, sources, self.lode_basis, settings.lode_gaussian_width)
        return coefficients, density, compressed, lode_potential, detached

    def _onsite_families(self, density: EquivariantSet, compressed: EquivariantSet,
                         lode_potential: torch.Tensor | None, max_lambda: int, labelled: bool) -> dict:
        """The nu2, nu3 and LODE on-site families up to ``max_lambda``."""
        settings = self.settings
        families = {
            "nu2": tensor_product(
                density.renamed("_1"), density.renamed("_2"), max_lambda, symmetric=True,
                concatenate=False, with_properties=labelled,
            ),
        }
        inner = tensor_product(
            compressed.renamed("_1"), compressed.renamed("_2"), settings.compressed_max_angular + max_lambda,
            labels=("1", "2"), symmetric=True, with_properties=labelled,
        )
        families["nu3"] = tensor_product(
            inner, compressed.renamed("_3"), max_lambda, labels=("12", "3"), concatenate=False,
            with_properties=labelled,
        )
        if lode_potential is not None:
            potential = lode_set(lode_potential, source_labels(settings.species, settings.lode_sources))
            families["lode"] = lode_feature_set(compressed, potential, max_lambda, with_properties=labelled)
        return families

    def invariants(self, numbers, positions: torch.Tensor) -> torch.Tensor:
        """The on-site invariants alone, ``(n_atoms, n_invariants)``: the values of
        ``self(numbers, positions).onsite[(0, 1)]`` (component axis dropped), computed
        without any lambda > 0 or pair feature, so much faster (energy heads, forces)."""
        numbers = self._validate(numbers, positions)
        _, density, compressed, lode_potential, _ = self._densities(numbers, positions)
        families = self._onsite_families(density, compressed, lode_potential, 0, labelled=False)
        parts = []
        for family in families.values():
            value = family.blocks.get((0, 1), [])
            parts.extend(value if isinstance(value, list) else [value])
        return torch.cat(parts, dim=2)[:, 0, :]

    def __call__(self, numbers, positions: torch.Tensor) -> Features:
        """Features of one structure.

        Parameters
        ----------
        numbers
            ``(n_atoms,)`` atomic numbers (sequence, array or tensor) from ``settings.species``.
        positions
            ``(n_atoms, 3)`` floating-point tensor, Angstrom; may require grad.
        """
        return next(self.parts(numbers, positions, max_pairs=None))

    def parts(self, numbers, positions: torch.Tensor, max_pairs: int | None) -> Iterator[Features]:
        """Features of one structure in parts, so that memory need not hold every pair's at once.

        Each part has every on-site block (the same tensors in all parts) and the pair blocks of at
        most ``max_pairs`` unordered pairs within ``pair_cutoff``, both orders (``None``: all, one
        part). Every pair appears in exactly one part; there is always at least one part. Pair
        features take ~50 kB per ordered pair in float64 (default settings): a 1000-atom molecule
        has ~20 per atom.
        """
        if max_pairs is not None and (not isinstance(max_pairs, int) or max_pairs < 1):
            raise ValueError(f"max_pairs must be None or a positive integer, got {max_pairs!r}")
        numbers = self._validate(numbers, positions)
        settings = self.settings
        device = positions.device
        labelled = self._labels is None
        labels = {} if labelled else self._labels
        coefficients, density, compressed, lode_potential, detached = self._densities(numbers, positions)
        families = self._onsite_families(density, compressed, lode_potential, settings.max_lambda, labelled)
        atom_samples = np.arange(len(numbers), dtype=np.int64)[:, None]
        onsite = _assemble(families, atom_samples, ("atom",), settings.max_lambda, labels)
        self._labels = labels

        pair_first_np, pair_second_np = neighbor_list(detached, settings.pair_cutoff)
        unordered = np.stack([pair_first_np, pair_second_np], axis=1).astype(np.int64)
        unordered = unordered[unordered[:, 0] < unordered[:, 1]]
        species_density = density_set(coefficients, settings.species, settings.compressed_max_radial)
        decorated = compressed_density_set(coefficients, settings.decorated_max_radial,
                                           settings.decorated_max_angular)
        size = max(len(unordered), 1) if max_pairs is None else max_pairs
        for start in range(0, max(len(unordered), 1), size):
            chunk = unordered[start:start + size]
            pair_samples = np.concatenate([chunk, chunk[:, ::-1]]).astype(np.int64)
            pair_samples = pair_samples[np.lexsort((pair_samples[:, 1], pair_samples[:, 0]))]  # by (first, second)
            pair_first = torch.as_tensor(pair_samples[:, 0], device=device)
            pair_second = torch.as_tensor(pair_samples[:, 1], device=device)
            pair_density = pair_density_set(
                positions, pair_first, pair_second, self.pair_basis,
                settings.pair_cutoff, settings.cutoff_width, settings.gaussian_width,
            )
            # the first part of the first call labels the pair families, later parts reuse the labels
            labelled = not any(name in ("pair", "decorated") for name, _ in labels)
            pair_families = pair_feature_sets(
                species_density, decorated, pair_density, pair_first, pair_second, settings.max_lambda,
                settings.decorated_max_angular, with_properties=labelled,
            )
            pair = _assemble(pair_families, pair_samples, ("first_atom", "second_atom"), settings.max_lambda,
                             labels)
            yield Features(
                numbers=numbers, settings=settings, density=coefficients, onsite=onsite, pairs=pair_samples,
                pair=pair, lode_potential=lode_potential,
            )


def compute_features(atoms_or_numbers, positions: torch.Tensor | None = None,
                     settings: DescriptorSettings | None = None) -> Features:
    """Convenience wrapper: ``compute_features(atoms)`` or ``compute_features(numbers, positions)``."""
    calculator = FeatureCalculator(settings)
    if positions is None:
        return calculator.from_atoms(atoms_or_numbers)
    return calculator(atoms_or_numbers, positions)
