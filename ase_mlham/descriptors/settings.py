"""Hyper-parameters of the symmetry-adapted descriptors.

All lengths are in Angstrom. The defaults are sized for organic molecules of
H, C, N and O (ARCHITECTURE.md: halex uses a 3.5 A cutoff, 6 radial and 4
angular channels and a 0.2 A Gaussian; mlelec a 5 A pair cutoff).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class DescriptorSettings:
    """Frozen hyper-parameters of :class:`~ase_mlham.descriptors.FeatureCalculator`.

    Parameters
    ----------
    species
        Atomic numbers with their own density channel, in channel order.
    cutoff
        Atom-centred (density) cutoff radius, Angstrom.
    pair_cutoff
        Cutoff of the two-centre pair features, independent of ``cutoff``, Angstrom.
    cutoff_width
        Width of the cosine switch below each cutoff, Angstrom; the cutoff function
        and its derivative vanish at the cutoff.
    max_radial
        Number of radial functions of the atom-centred density.
    max_angular
        Largest angular momentum of the density expansion (>= 2).
    gaussian_width
        Width sigma of the atomic Gaussians of the density, Angstrom.
    pair_max_radial
        Number of radial functions of the pair density g_ij (pair basis spans ``pair_cutoff``).
    max_lambda
        Largest lambda of the returned equivariant blocks (the s/p on-site and
        off-site blocks need 0, 1, 2).
    compressed_max_radial, compressed_max_angular
        The species-summed density used in the nu=3 on-site features and the
        LODE products keeps the lowest ``compressed_max_radial`` radial functions
        and ``l <= compressed_max_angular``. The species-resolved centre density
        of the pair features keeps the lowest ``compressed_max_radial`` radial
        functions (all ``l <= max_angular``).
    decorated_max_radial, decorated_max_angular
        Size of the species-summed densities of i and j in the neighbour-decorated
        pair features (and of the intermediate degree of ``rho_i (x) g_ij``).
    lode
        Whether to compute the long-range (LODE) features.
    lode_gaussian_width
        Width of the Gaussian-smeared atoms generating the 1/r potential, Angstrom.
    lode_max_radial, lode_max_angular
        Size of the local basis the potential is expanded on.
    lode_cutoff
        ``None`` (default): the potential sums every atom of the molecule, a pure
        1/r kernel. A distance in Angstrom: sources are switched off smoothly
        (cosine, over ``cutoff_width``) at this range, per atom for species and per
        bond midpoint for bond charges, so that molecules farther apart do not see
        each other at all (exact size consistency).
    lode_sources
        What generates the potential (:mod:`.lode`): ``"species"``, one channel per
        species with a unit charge on each atom (a neutral neighbour acts as a
        monopole); ``"bond-charges"``, one channel per pair of species with
        bond-charge increments, neutral in each molecule (its neighbours act as dipoles).
    lode_bond_cutoff
        Atoms of ``"bond-charges"`` closer than this are bonded (cosine switch over
        ``cutoff_width``), Angstrom.
    """

    species: tuple[int, ...] = (1, 6, 7, 8)
    cutoff: float = 4.0
    pair_cutoff: float = 5.0
    cutoff_width: float = 0.5
    max_radial: int = 6
    max_angular: int = 4
    gaussian_width: float = 0.3
    pair_max_radial: int = 3
    max_lambda: int = 2
    compressed_max_radial: int = 3
    compressed_max_angular: int = 3
    decorated_max_radial: int = 2
    decorated_max_angular: int = 2
    lode: bool = True
    lode_gaussian_width: float = 1.0
    lode_max_radial: int = 3
    lode_max_angular: int = 3
    lode_cutoff: float | None = None
    lode_sources: str = "species"
    lode_bond_cutoff: float = 2.0

    def __post_init__(self) -> None:
        if not isinstance(self.species, tuple) or not self.species:
            raise TypeError(f"species must be a non-empty tuple of atomic numbers, got {self.species!r}")
        if len(set(self.species)) != len(self.species) or any(int(z) <= 0 for z in self.species):
            raise ValueError(f"species must hold distinct positive atomic numbers, got {self.species!r}")
        for name in ("cutoff", "pair_cutoff", "cutoff_width", "gaussian_width", "lode_gaussian_width"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or not value > 0:
                raise ValueError(f"{name} must be a positive number (Angstrom), got {value!r}")
        if self.cutoff_width >= min(self.cutoff, self.pair_cutoff):
            raise ValueError(
                f"cutoff_width must be smaller than cutoff and pair_cutoff, got {self.cutoff_width!r}"
            )
        if self.lode_sources not in ("species", "bond-charges"):
            raise ValueError(f"lode_sources must be 'species' or 'bond-charges', got {self.lode_sources!r}")
        if self.lode_sources == "bond-charges" and len(self.species) < 2:
            raise ValueError(f"lode_sources='bond-charges' needs at least two species, got {self.species!r}")
        if not (isinstance(self.lode_bond_cutoff, (int, float)) and self.lode_bond_cutoff > self.cutoff_width):
            raise ValueError(f"lode_bond_cutoff must be a distance beyond cutoff_width (Angstrom), "
                             f"got {self.lode_bond_cutoff!r}")
        if self.lode_cutoff is not None and not (
                isinstance(self.lode_cutoff, (int, float)) and self.lode_cutoff > max(self.cutoff, self.pair_cutoff)):
            raise ValueError(f"lode_cutoff must be None or a distance beyond cutoff and pair_cutoff (Angstrom), "
                             f"got {self.lode_cutoff!r}")
        minimum = {
            "max_radial": 1, "pair_max_radial": 1, "compressed_max_radial": 1, "lode_max_radial": 1,
            "decorated_max_radial": 1, "decorated_max_angular": 0,
            "max_angular": 2, "max_lambda": 0, "compressed_max_angular": 0, "lode_max_angular": 0,
        }
        for name, low in minimum.items():
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < low:
                raise ValueError(f"{name} must be an integer >= {low}, got {value!r}")
        for name, bound in (("compressed_max_radial", "max_radial"), ("decorated_max_radial", "max_radial"),
                            ("decorated_max_angular", "max_angular"), ("compressed_max_angular", "max_angular")):
            if getattr(self, name) > getattr(self, bound):
                raise ValueError(f"{name} must not exceed {bound}={getattr(self, bound)}, "
                                 f"got {getattr(self, name)!r}")

    @property
    def max_cutoff(self) -> float:
        """The larger of the two local cutoffs, Angstrom."""
        return max(self.cutoff, self.pair_cutoff)
