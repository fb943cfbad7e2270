r"""Global parameters of the simplified Tamm-Dancoff approximation (sTDA) and its settings.

sTDA (S. Grimme, J. Chem. Phys. 138, 244104 (2013)) replaces the two-electron
integrals of the TDA matrix by Mataga-Nishimoto-Ohno-Klopman (MNOK) damped
Coulomb interactions between Löwdin transition charges on the atoms:

.. math::

    \Gamma^{K}_{AB} = \left(\frac{1}{R_{AB}^{\alpha} + \eta_{AB}^{-\alpha}}\right)^{1/\alpha},
    \qquad
    \Gamma^{J}_{AB} = \left(\frac{1}{R_{AB}^{\beta} + (a_x \eta_{AB})^{-\beta}}\right)^{1/\beta},

.. math::

    \alpha = \alpha_1 + a_x \alpha_2, \qquad \beta = \beta_1 + a_x \beta_2, \qquad
    \eta_{AB} = (\eta_A + \eta_B) / 2,

with :math:`R_{AB}` in Bohr and :math:`\Gamma`, :math:`\eta` in Hartree.
:math:`\Gamma^K` approximates the exchange-type integrals :math:`(ia|jb)`,
:math:`\Gamma^J` the Coulomb-type :math:`(ij|ab)`. The four global parameters
are the published ones; :math:`a_x` is the fraction of non-local Fock exchange of
the functional whose orbitals are used: **0.20 for B3LYP** (the ML Hamiltonian
reproduces B3LYP/def2-TZVP orbital energies). 0.5 is BHLYP's value, not B3LYP's.

The chemical hardnesses :math:`\eta_A` are those of Grimme's ``stda`` program:
Ghosh and Islam's values (Int. J. Quantum Chem. 110, 1206 (2010)) multiplied by
two, since :math:`(AA|AA) \approx IP - EA = d^2E/dN^2` while Ghosh and Islam
define the hardness as half of it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from ase_mlham.units import HARTREE_TO_EV

#: Published global sTDA parameters (Grimme 2013): exponents of Gamma^K and Gamma^J.
ALPHA1, ALPHA2 = 1.42, 0.48
BETA1, BETA2 = 0.20, 1.83

#: Fraction of Fock exchange of B3LYP: the a_x to use with B3LYP orbitals.
A_X_B3LYP = 0.20

#: Chemical hardness eta_A in Hartree per atomic number (stda's table: 2 x Ghosh-Islam).
CHEMICAL_HARDNESS_HARTREE: dict[int, float] = {
    1: 0.472592880,
    6: 0.421954120,
    7: 0.504381930,
    8: 0.586918630,
}

#: The perturbative threshold of the paper for secondary CSFs, 1e-4 Hartree, in eV.
DEFAULT_PERTURBATIVE_THRESHOLD = 1.0e-4 * HARTREE_TO_EV


def coulomb_exponent(a_x: float) -> float:
    r"""Exponent :math:`\beta = \beta_1 + a_x \beta_2` of :math:`\Gamma^J`."""
    return BETA1 + a_x * BETA2


def exchange_exponent(a_x: float) -> float:
    r"""Exponent :math:`\alpha = \alpha_1 + a_x \alpha_2` of :math:`\Gamma^K`."""
    return ALPHA1 + a_x * ALPHA2


@dataclass(frozen=True)
class STDASettings:
    r"""What :func:`ase_mlham.excitations.stda_excitations` computes and how the CSFs are selected.

    Parameters
    ----------
    n_states
        Number of lowest singlet excitations returned (fewer when the molecule
        has fewer single excitations).
    a_x
        Fraction of Fock exchange of the functional the orbitals mimic, in [0, 1];
        default 0.20 (B3LYP).
    energy_window
        eV. Primary CSFs i->a are those whose diagonal element :math:`A'_{ia,ia}`
        lies at most ``energy_window`` above the lowest one:
        :math:`E_\mathrm{thr} = \min A'_{ia,ia} +` ``energy_window``. The paper's
        :math:`E_\mathrm{thr}` is absolute (7 eV in its tests); relative to the
        lowest CSF, the window stays meaningful for small molecules whose first
        excitation lies near or above 7 eV. ``math.inf`` keeps every CSF (full sTDA
        in the minimal basis). Orbitals enter only within stda's active window
        :math:`[\varepsilon_\mathrm{LUMO} - E_w, \varepsilon_\mathrm{HOMO} + E_w]`,
        :math:`E_w = 2 (1 + 0.8 a_x) E_\mathrm{thr}`, so core orbitals drop out.
    csfs_per_state
        Budget: at most ``csfs_per_state * n_states`` CSFs in all (``None``: no
        budget). Primary CSFs come first, those of lowest diagonal
        (:math:`E_\mathrm{thr}` is lowered to the last one's diagonal when the
        window holds more), then secondary ones by decreasing :math:`E^{(2)}`.
        Only the lowest states are wanted and the cost grows as the cube of the
        number of CSFs: with the default budget, 20 states of a 50-atom alkane
        (exact B3LYP/STO-3G orbitals) take ~45 ms instead of ~2 s on one thread, and move by
        0.03 eV on average (0.13 eV at most); small molecules (benzene, pyridine,
        furan: under 200 selected CSFs) stay within it and get the paper's
        selection unchanged.
    perturbative_threshold
        eV, or ``None``. Secondary CSFs (active, not primary) are added when their
        second-order energy contribution to the primary ones,
        :math:`E^{(2)}_u = \sum_p |A'_{pu}|^2 / (A'_{uu} - A'_{pp})`, exceeds it, as
        in the paper (default :data:`DEFAULT_PERTURBATIVE_THRESHOLD` =
        :math:`10^{-4}` Hartree). They matter in the minimal basis too: the bright
        :math:`\pi\pi^*` state of butadiene moves by 0.4 eV when they are left out
        of a 7 eV window. ``None`` keeps primary CSFs only.

    The selection is piecewise constant in the geometry: when a CSF enters or
    leaves, the excitation energies change by a small step (at most about its
    :math:`E^{(2)}` for a secondary CSF). ``energy_window=math.inf,
    csfs_per_state=None`` keeps every CSF: smooth, and affordable for small molecules.
    """

    n_states: int = 10
    a_x: float = A_X_B3LYP
    energy_window: float = 7.0
    csfs_per_state: int | None = 20
    perturbative_threshold: float | None = DEFAULT_PERTURBATIVE_THRESHOLD

    def __post_init__(self) -> None:
        if not isinstance(self.n_states, int) or isinstance(self.n_states, bool) or self.n_states < 1:
            raise ValueError(f"n_states must be a positive integer, got {self.n_states!r}")
        if not isinstance(self.a_x, (int, float)) or not 0.0 <= self.a_x <= 1.0:
            raise ValueError(f"a_x must be a number in [0, 1] (0.20 for B3LYP), got {self.a_x!r}")
        if not isinstance(self.energy_window, (int, float)) or math.isnan(self.energy_window) \
                or self.energy_window <= 0:
            raise ValueError(f"energy_window must be a positive number of eV (math.inf: every CSF), "
                             f"got {self.energy_window!r}")
        cap = self.csfs_per_state
        if cap is not None and (not isinstance(cap, int) or isinstance(cap, bool) or cap < 1):
            raise ValueError(f"csfs_per_state must be None or a positive integer, got {cap!r}")
        threshold = self.perturbative_threshold
        if threshold is not None and (not isinstance(threshold, (int, float)) or not math.isfinite(threshold)
                                      or threshold < 0):
            raise ValueError(f"perturbative_threshold must be None or a non-negative number of eV, "
                             f"got {threshold!r}")
