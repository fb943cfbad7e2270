"""Symmetry-adapted descriptors (torch, float64, differentiable in positions).

Entry point: :class:`FeatureCalculator` (``calculator(numbers, positions)`` or
``calculator.from_atoms(atoms)``) returning :class:`Features`. Building blocks:
real spherical harmonics and Wigner-D (:mod:`.spherical_harmonics`), real
Clebsch-Gordan coefficients (:mod:`.clebsch_gordan`), the Gaussian-type radial
basis and smooth cutoff (:mod:`.radial`), neighbour lists (:mod:`.neighbors`),
nu=1 densities (:mod:`.density`), CG products (:mod:`.equivariants`), pair
features (:mod:`.pairs`) and LODE (:mod:`.lode`). Conventions are written in
:mod:`.spherical_harmonics` and :mod:`.equivariants`.
"""

from .clebsch_gordan import clebsch_gordan_real
from .equivariants import EquivariantSet, tensor_product
from .features import FeatureBlock, FeatureCalculator, Features, compute_features
from .neighbors import neighbor_list
from .radial import GaussianTypeBasis, smooth_cutoff
from .settings import DescriptorSettings
from .spherical_harmonics import solid_harmonics, spherical_harmonics, wigner_d_real

__all__ = [
    "DescriptorSettings",
    "EquivariantSet",
    "FeatureBlock",
    "FeatureCalculator",
    "Features",
    "GaussianTypeBasis",
    "clebsch_gordan_real",
    "compute_features",
    "neighbor_list",
    "smooth_cutoff",
    "solid_harmonics",
    "spherical_harmonics",
    "tensor_product",
    "wigner_d_real",
]
