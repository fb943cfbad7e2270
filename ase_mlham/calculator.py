r"""ASE calculator: ``Atoms -> model.predict -> results``, a thin adapter over one model call.

What it computes
----------------
The model predicts, for a closed-shell neutral molecule of ``n_atoms`` atoms,

* the total energy (eV): for a model with an energy baseline (the shipped one) GFN2-xTB's
  (tblite) plus a learned correction :math:`\sum_i \varepsilon_i`, which targets B3LYP-D4 and is
  damped towards per-element offsets where its uncertainty is large; otherwise a sum of atomic
  energies :math:`E = \sum_i \varepsilon_i`. Forces :math:`\mathbf F_i = -\partial E / \partial \mathbf R_i`
  (eV/Angstrom: tblite's analytic gradient plus the correction's by autograd, exactly the gradient
  of the energy it reports);
* the effective minimal-basis Hamiltonian :math:`H'` in the Löwdin-orthogonal
  STO-3G basis (``n_orbitals`` functions: 1 per H, 5 per C/N/O, PySCF AO order),
  whose eigenvalues are the orbital energies:

.. math::

    H' C' = C' \operatorname{diag}(\varepsilon_1 \le \dots \le \varepsilon_{n}),
    \qquad \text{HOMO} = \varepsilon_{n_\mathrm{occ}},\;
    \text{LUMO} = \varepsilon_{n_\mathrm{occ} + 1},\;
    n_\mathrm{occ} = N_\mathrm{electrons} / 2 .

The non-orthogonal Hamiltonian in the atomic-orbital basis is
:math:`H = S^{1/2} H' S^{1/2}` with the analytic STO-3G overlap :math:`S`; the
generalised problem :math:`H C = S C \varepsilon` has the same eigenvalues and
the AO coefficients :math:`C = S^{-1/2} C'`.

The Fermi level is defined as the midpoint of HOMO and LUMO (a closed-shell
molecule at zero electronic temperature), so that ``ase.dft.bandgap.bandgap``
finds the HOMO-LUMO gap.

The molecule is seen as one "k-point" and one spin channel: ASE's
``eigenvalues`` result has shape ``(1, 1, n_orbitals)`` and every orbital holds
0 or 2 electrons.

Excited states: the lowest ``n_excitations`` singlet excitation energies
:math:`\omega_n` (eV) and oscillator strengths :math:`f_n` come from the
simplified Tamm-Dancoff approximation on the orbitals of H'
(:mod:`ase_mlham.excitations`, Grimme 2013, with :math:`a_x = 0.20` for B3LYP):
the TDA matrix :math:`A'_{ia,jb} = \delta_{ij}\delta_{ab}(\varepsilon_a - \varepsilon_i)
+ 2(ia|jb)' - (ij|ab)'` with two-electron integrals from Löwdin transition
charges and damped Coulomb interactions, and transition dipoles from the analytic
STO-3G dipole integrals, :math:`f_n = \tfrac23 \omega_n |\boldsymbol\mu_n|^2`
(atomic units).
"""

from __future__ import annotations

import copy
import dataclasses
import os
import warnings
from pathlib import Path

import numpy as np
import torch
from ase import Atoms
from ase.calculators.calculator import Calculator, PropertyNotImplementedError, all_changes

from ase_mlham.excitations import STDASettings
from ase_mlham.model.baseline import XTBBaseline
from ase_mlham.model.io import load_model
from ase_mlham.model.model import MLHamModel
from ase_mlham.options import setting

#: Where the shipped default model lives inside the installed package.
DEFAULT_MODEL_PATH = Path(__file__).resolve().parent / "models" / "default.pt"

_DTYPES = {"float64": torch.float64, "float32": torch.float32}


def load_default_model() -> MLHamModel:
    """The shipped default model; ``FileNotFoundError`` when the installation lacks it."""
    if not DEFAULT_MODEL_PATH.is_file():
        raise FileNotFoundError(
            f"the default model is missing from this installation (expected {str(DEFAULT_MODEL_PATH)!r}); "
            "pass model='path/to/model.pt' (a file written by `mlham train`) or reinstall ase-mlham")
    return load_model(DEFAULT_MODEL_PATH)


def _resolve_dtype(dtype) -> torch.dtype:
    if isinstance(dtype, torch.dtype):
        if dtype not in _DTYPES.values():
            raise ValueError(f"dtype must be float64 or float32, got {dtype}")
        return dtype
    if not isinstance(dtype, str):
        raise TypeError(f"dtype must be a string ('float64' or 'float32') or a torch.dtype, "
                        f"got {type(dtype).__name__}")
    try:
        return _DTYPES[dtype]
    except KeyError:
        raise ValueError(f"dtype must be 'float64' or 'float32', got {dtype!r}") from None


def _resolve_model(model, device: torch.device, dtype: torch.dtype) -> MLHamModel:
    if model is None:
        resolved = load_default_model()
    elif isinstance(model, (str, os.PathLike)):
        resolved = load_model(model)
    elif isinstance(model, MLHamModel):
        parameter = next(model.parameters(), None)
        if parameter is not None and (parameter.dtype != dtype or parameter.device != device):
            resolved = copy.deepcopy(model)  # never move the caller's model in place
        else:
            return model.eval()  # shared with the caller, left as it is
    else:
        raise TypeError(f"model must be None (the shipped default), a path to a model file or an "
                        f"MLHamModel, got {type(model).__name__}")
    # a model of our own: no autograd graph through the weights (forces only need d/dR)
    return resolved.to(device=device, dtype=dtype).requires_grad_(False).eval()


#: sTDA states computed by default (the calculator, `mlham md`, `mlham spectrum`, `mlham-ipi`): declared once, here.
DEFAULT_EXCITATIONS = 10


@dataclasses.dataclass(frozen=True)
class CalculatorSettings:
    """The calculator's options as the commands take them (``mlham md``, ``mlham spectrum``, ``mlham-ipi``).

    Declared once here, as command-line options too (:mod:`ase_mlham.options`); the values are checked by
    :class:`MLHamCalculator` when :meth:`calculator` builds it, the one place that checks them for the
    Python API as well.
    """

    model: str | None = setting(None, "model file written by `mlham train` (default: the model shipped with "
                                      "ase-mlham)", metavar="FILE")
    excitations: int = setting(DEFAULT_EXCITATIONS, "lowest singlet excitations computed by sTDA for every "
                                                    "structure (0: none)", metavar="N")
    device: str = setting("cpu", "torch device, e.g. cpu or cuda")
    dtype: str = setting("float64", "model precision (float64 for energy conservation)",
                         choices=("float64", "float32"))

    def calculator(self, **keywords) -> "MLHamCalculator":
        """An :class:`MLHamCalculator` with these settings (``keywords``: its other arguments)."""
        return MLHamCalculator(self.model, device=self.device, dtype=self.dtype, n_excitations=self.excitations,
                               **keywords)


#: The parts of a calculation and the results each gives; a call computes only the parts its properties
#: need (orbitals and excitations need the electronic part, excitation uncertainties the excitations), each at
#: most once per geometry. The excitations' uncertainties are a part of their own: they repeat sTDA for every
#: member of the committee, which would make every step with excitations several times dearer.
PARTS = {
    "energy": ("energy", "free_energy", "forces", "energies", "energy_uncertainty", "forces_uncertainty"),
    "electronic": ("eigenvalues", "fermi_level", "homo_lumo_gap", "hamiltonian", "orbital_energy_uncertainties",
                   "gap_uncertainty"),
    "orbitals": ("overlap", "orbital_coefficients"),
    "excitations": ("excitation_energies", "oscillator_strengths"),
    "excitation_uncertainties": ("excitation_energy_uncertainties",),
}


class UncertaintyWarning(UserWarning):
    """A result's uncertainty crossed its threshold (``MLHamCalculator.uncertainty_threshold``)."""


class SizeWarning(UserWarning):
    """The molecule has more atoms than any the model was trained or validated on (model metadata
    ``largest_molecule_atoms``): its accuracy at that size has not been measured."""


class MLHamCalculator(Calculator):
    """Energy, forces and the minimal-basis electronic structure from an ML Hamiltonian model.

    See the module docstring for the physics. Every result comes from one
    ``model.predict`` call per geometry (plus the analytic overlap and one
    eigendecomposition for the orbital coefficients); changing the positions
    triggers exactly one new call.

    Parameters
    ----------
    model
        ``None`` loads the shipped default model (``FileNotFoundError`` when it is
        missing from the installation); a path to a model file written by
        ``mlham train``; or an :class:`~ase_mlham.model.model.MLHamModel`
        (copied first if it needs another device or dtype, never moved in place).
    device
        Torch device the model runs on, e.g. ``"cpu"``.
    dtype
        ``"float64"`` (default; needed for energy conservation in MD) or ``"float32"``.
        Results are always returned as float64 NumPy arrays.
    n_excitations
        Number of lowest singlet excitations computed by sTDA at every geometry
        (default 10); 0 switches them off.
    stda_settings
        :class:`~ase_mlham.excitations.STDASettings` for the excitations (CSF
        selection, ``a_x``); its ``n_states`` is replaced by ``n_excitations``.
        Default: ``STDASettings()`` (``a_x`` = 0.20, B3LYP).
    uncertainty_threshold
        Absolute thresholds on the uncertainties, ``{"energy": eV, "forces": eV/A (largest atom),
        "gap": eV, "orbital_energies": eV (largest orbital), "excitations": eV (largest state)}``; a
        structure where one is crossed emits one :class:`UncertaintyWarning` naming the quantities,
        their sigma and threshold. Missing entries take the model's defaults (its calibration, model
        metadata ``uncertainty_thresholds``); kept as the public attribute ``uncertainty_threshold``.
    label, atoms
        As for every ASE calculator.

    Results (``implemented_properties``)
    ------------------------------------
    ``energy``, ``free_energy`` (eV, equal: no electronic entropy), ``forces``
    ``(n_atoms, 3)`` eV/Angstrom, ``energies`` ``(n_atoms,)`` atomic energies (eV)
    summing to ``energy`` (models without an energy baseline only: GFN2-xTB has no atomic
    partition), ``energy_uncertainty`` (eV) and ``forces_uncertainty`` (``(n_atoms,)`` eV/Angstrom)
    (models with an energy baseline: the calibrated LLPR uncertainty of the learned correction, and a
    calibrated per-atom proxy built from it), ``orbital_energy_uncertainties`` ``(n_orbitals,)`` eV,
    ``gap_uncertainty`` eV and, with excitations, ``excitation_energy_uncertainties`` ``(n,)`` eV
    (computed only when asked for, as it repeats sTDA for every member; models with a committee of
    Hamiltonians: the calibrated spread of its members, see :mod:`ase_mlham.model.committee`),
    ``eigenvalues`` ``(1, 1, n_orbitals)`` eV ascending,
    ``fermi_level`` (eV, midpoint of HOMO and LUMO), ``homo_lumo_gap`` (eV), and
    the non-standard ``hamiltonian`` (H' in the Löwdin-orthogonal basis, eV,
    ``(n_orbitals, n_orbitals)``), ``overlap`` (analytic STO-3G S, dimensionless)
    and ``orbital_coefficients`` (eigenvectors of H', column k is orbital k,
    Löwdin basis; the sign of each column, and the basis within a degenerate
    level, is arbitrary). With ``n_excitations > 0`` also ``excitation_energies``
    ``(n,)`` eV ascending and ``oscillator_strengths`` ``(n,)`` (dimensionless),
    ``n = min(n_excitations, number of single excitations)``; with 0, asking for
    them raises ``PropertyNotImplementedError``. ASE file writers keep only the
    standard results; log the orbital quantities separately (see :mod:`ase_mlham.md`).

    Inputs are checked before the model runs: unknown elements, charged
    (``atoms.info["charge"]``, initial charges) or open-shell molecules (odd electron count,
    ``atoms.info["spin"]``, initial magnetic moments), periodic cells, atoms
    closer than 0.6 Angstrom, NaN/inf positions and empty Atoms raise
    ``ValueError``.
    """

    implemented_properties = [
        "energy", "free_energy", "forces", "energies", "eigenvalues", "fermi_level", "homo_lumo_gap",
        "hamiltonian", "overlap", "orbital_coefficients", "excitation_energies", "oscillator_strengths",
        "energy_uncertainty", "forces_uncertainty", "orbital_energy_uncertainties", "gap_uncertainty",
        "excitation_energy_uncertainties",
    ]

    #: The results that exist only for a model with an energy baseline (a calibrated correction).
    uncertainty_properties = ("energy_uncertainty", "forces_uncertainty")
    #: The results that exist only for a model with a committee of Hamiltonians.
    committee_properties = ("orbital_energy_uncertainties", "gap_uncertainty", "excitation_energy_uncertainties")
    #: Quantities of ``uncertainty_threshold``, with the result each is compared with (largest entry).
    threshold_results = {"energy": "energy_uncertainty", "forces": "forces_uncertainty",
                         "gap": "gap_uncertainty", "orbital_energies": "orbital_energy_uncertainties",
                         "excitations": "excitation_energy_uncertainties"}

    #: The results that exist only with ``n_excitations > 0``.
    excitation_properties = ("excitation_energies", "oscillator_strengths")

    def __init__(self, model: MLHamModel | str | os.PathLike | None = None, device: str | torch.device = "cpu",
                 dtype: str | torch.dtype = "float64", n_excitations: int = DEFAULT_EXCITATIONS,
                 stda_settings: STDASettings | None = None, uncertainty_threshold: dict | None = None,
                 label: str | None = None, atoms: Atoms | None = None) -> None:
        try:
            self.device = torch.device(device)
        except (RuntimeError, TypeError) as err:
            raise ValueError(f"device must name a torch device such as 'cpu', got {device!r}: {err}") from None
        self.dtype = _resolve_dtype(dtype)
        if not isinstance(n_excitations, (int, np.integer)) or isinstance(n_excitations, bool) or n_excitations < 0:
            raise ValueError(f"n_excitations must be a non-negative integer (0: no excitations), got {n_excitations!r}")
        if stda_settings is not None and not isinstance(stda_settings, STDASettings):
            raise TypeError(f"stda_settings must be an STDASettings or None, got {type(stda_settings).__name__}")
        self.n_excitations = int(n_excitations)
        self.stda_settings = None if self.n_excitations == 0 else dataclasses.replace(
            stda_settings or STDASettings(), n_states=self.n_excitations)
        self.model = _resolve_model(model, self.device, self.dtype)
        settings = self.model.settings
        # restarts each SCC from the previous geometry's wavefunction: MD and optimisation steps are close
        self._baseline = (XTBBaseline(settings.energy_baseline, settings.baseline_accuracy)
                          if settings.energy_baseline is not None else None)
        defaults = dict(getattr(self.model, "metadata", {}).get("uncertainty_thresholds") or {})
        if uncertainty_threshold is not None:
            if not isinstance(uncertainty_threshold, dict):
                raise TypeError(f"uncertainty_threshold must be a dict such as {{'gap': 0.3}}, "
                                f"got {type(uncertainty_threshold).__name__}")
            unknown = sorted(set(uncertainty_threshold) - set(self.threshold_results))
            if unknown:
                raise ValueError(f"uncertainty_threshold has unknown quantities {unknown}; known: "
                                 f"{sorted(self.threshold_results)}")
            for name, value in uncertainty_threshold.items():
                if not (isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0):
                    raise ValueError(f"uncertainty_threshold[{name!r}] must be a positive number, got {value!r}")
            defaults.update(uncertainty_threshold)
        #: Absolute thresholds (eV, eV/A) above which a result's uncertainty triggers an
        #: :class:`UncertaintyWarning`; defaults from the model's calibration.
        self.uncertainty_threshold: dict[str, float] = defaults
        self.nocc: int | None = None
        self._sizes_warned: set[int] = set()  # one SizeWarning per size, not per MD step
        Calculator.__init__(self, label=label, atoms=atoms)

    # ------------------------------------------------------------------ checks
    def check_state(self, atoms: Atoms, tol: float = 1e-15) -> list[str]:
        """ASE's changes, plus ``charge``/``spin`` when ``atoms.info`` changed them."""
        changes = super().check_state(atoms, tol)
        if self.atoms is not None:
            for key in ("charge", "spin"):
                if not np.array_equal(np.asarray(atoms.info.get(key, 0)), np.asarray(self.atoms.info.get(key, 0))):
                    changes.append(key)
        return changes

    def _check_atoms(self, atoms: Atoms) -> None:
        """Raise ``ValueError`` for anything the model cannot describe."""
        from ase_mlham.data.molecules import check_molecule

        label = atoms.get_chemical_formula() if len(atoms) else "Atoms"
        try:  # the model's own check first: it names the model's elements, not only the basis set's
            self.model.species_index(atoms.numbers)
        except ValueError as err:
            raise ValueError(f"{label}: {err}") from None
        check_molecule(atoms, label=label)  # charge and spin from atoms.info and the magnetic moments

    # ------------------------------------------------------------- calculation
    def get_property(self, name, atoms=None, allow_calculation=True):
        """ASE's ``get_property``; excitation results raise at once when ``n_excitations`` is 0, atomic
        energies and the energy uncertainty when the model has no such thing."""
        if name in self.excitation_properties and self.n_excitations == 0:
            raise PropertyNotImplementedError(
                f"{name} is switched off: this calculator has n_excitations=0 (pass n_excitations > 0)")
        baseline = self.model.settings.energy_baseline
        if name == "energies" and baseline is not None:
            raise PropertyNotImplementedError(
                f"energies (atomic energies) do not exist for this model: its energy is {baseline}, which has "
                "no partition into atoms, plus a learned correction")
        if name in self.uncertainty_properties and baseline is None:
            raise PropertyNotImplementedError(f"{name} needs a model with a calibrated energy "
                                              "correction (an energy baseline, format version 5)")
        if name in self.committee_properties and self.model.committee is None:
            raise PropertyNotImplementedError(f"{name} needs a model with a committee of Hamiltonians "
                                              "(ModelSettings.hamiltonian_members > 0)")
        if name == "excitation_energy_uncertainties" and self.n_excitations == 0:
            raise PropertyNotImplementedError(f"{name} is switched off: this calculator has n_excitations=0")
        return super().get_property(name, atoms, allow_calculation)

    def reset(self) -> None:
        """ASE's reset (a new geometry), forgetting the parts computed for the old one."""
        super().reset()
        self._done: set[str] = set()
        self._electronic = None  # (prediction, positions) of the geometry, for orbitals and excitations
        self._orbitals = None
        self._warned = False

    def calculate(self, atoms: Atoms | None = None, properties=None, system_changes=all_changes) -> None:
        """Compute the parts (:data:`PARTS`) the asked ``properties`` need and this geometry lacks: energy
        and forces; H' and its eigenvalues; orbital coefficients and overlap; excitations."""
        properties = ["energy"] if not properties else list(properties)
        if system_changes:
            self.reset()
        Calculator.calculate(self, atoms, properties, system_changes)
        wanted = {part for name in properties for part, names in PARTS.items() if name in names}
        if "excitation_uncertainties" in wanted:
            wanted.add("excitations")
        if wanted & {"orbitals", "excitations"}:
            wanted.add("electronic")
        try:
            self._check_atoms(self.atoms)
            self._warn_if_larger_than_validated(self.atoms)
            self.results.update(self._compute(self.atoms, sorted(wanted - self._done)))
        except Exception:
            self.reset()
            raise
        self._done |= wanted
        self._warn_if_uncertain()

    def uncertainty_crossings(self) -> list[str]:
        """The thresholds the last structure crossed, as ``"<quantity> sigma <value> > <threshold>"``."""
        crossed = []
        for quantity, threshold in self.uncertainty_threshold.items():
            result = self.results.get(self.threshold_results[quantity])
            if result is not None and np.size(result) and float(np.nanmax(result)) > threshold:
                crossed.append(f"{quantity} sigma {float(np.nanmax(result)):.3g} > {threshold:g}")
        return crossed

    def _warn_if_uncertain(self) -> None:
        """One :class:`UncertaintyWarning` per structure, naming every quantity above its threshold."""
        crossed = self.uncertainty_crossings()
        if crossed and not self._warned:
            self._warned = True
            warnings.warn(UncertaintyWarning(
                f"{self.atoms.get_chemical_formula()}: the model is unsure here ({'; '.join(crossed)}; eV, eV/A): "
                "this structure is outside what it was trained on"), stacklevel=3)

    def _warn_if_larger_than_validated(self, atoms: Atoms) -> None:
        """One :class:`SizeWarning` per molecule size beyond the model's ``largest_molecule_atoms``."""
        largest = getattr(self.model, "metadata", {}).get("largest_molecule_atoms")
        if largest is None or len(atoms) <= largest or len(atoms) in self._sizes_warned:
            return
        self._sizes_warned.add(len(atoms))
        warnings.warn(SizeWarning(
            f"{atoms.get_chemical_formula()}: {len(atoms)} atoms, more than the largest molecule this model was "
            f"trained or validated on ({largest} atoms); its accuracy at this size has not been measured"),
            stacklevel=3)

    def _compute(self, atoms: Atoms, parts: list[str]) -> dict:
        """The results of ``parts`` (names of :data:`PARTS`) for ``atoms``: at most one model call."""
        from ase_mlham.basis import overlap_matrix
        from ase_mlham.electronic import Orbitals, solve_orbitals

        def numpy(tensor: torch.Tensor) -> np.ndarray:
            return tensor.detach().to(device="cpu", dtype=torch.float64).numpy().copy()

        numbers = atoms.numbers
        self.nocc = sum(int(z) for z in numbers) // 2
        results: dict = {}
        if "energy" in parts or "electronic" in parts:
            positions = torch.tensor(atoms.get_positions(), dtype=self.dtype, device=self.device)
            # the eigenvectors come from the eigensolve of the eigenvalues when they are asked for now, or will be
            # at every geometry (excitations switched on): one eigensolve per geometry, not two (in float64; a
            # float32 model's H' is diagonalised again in float64 for them, as sTDA needs)
            orbitals = ("electronic" in parts and self.dtype == torch.float64
                        and (bool({"orbitals", "excitations"} & set(parts)) or self.n_excitations > 0))
            prediction = self.model.predict(numbers, positions, forces="energy" in parts, energy="energy" in parts,
                                            hamiltonian="electronic" in parts, orbitals=orbitals,
                                            baseline=self._baseline)
            if "energy" in parts:
                energy = float(prediction.energy)
                results.update(energy=energy, free_energy=energy, forces=numpy(prediction.forces))
                if prediction.baseline_energy is None:
                    results["energies"] = numpy(prediction.atomic_energies)
                if prediction.energy_uncertainty is not None:
                    results.update(energy_uncertainty=float(prediction.energy_uncertainty),
                                   forces_uncertainty=numpy(prediction.forces_uncertainty))
            if "electronic" in parts:
                self._electronic = (prediction, positions.detach().to(torch.float64))
                if prediction.orbital_coefficients is not None:
                    self._orbitals = Orbitals(prediction.orbital_energies.detach().to(torch.float64),
                                              prediction.orbital_coefficients.detach().to(torch.float64),
                                              prediction.nocc)
                eigenvalues = numpy(prediction.orbital_energies)
                homo, lumo = float(eigenvalues[self.nocc - 1]), float(eigenvalues[self.nocc])
                results.update(eigenvalues=eigenvalues[None, None, :], fermi_level=0.5 * (homo + lumo),
                               homo_lumo_gap=lumo - homo, hamiltonian=numpy(prediction.hamiltonian))
                if prediction.gap_uncertainty is not None:
                    results.update(orbital_energy_uncertainties=numpy(prediction.orbital_energy_uncertainties),
                                   gap_uncertainty=float(prediction.gap_uncertainty))
        if {"orbitals", "excitations", "excitation_uncertainties"} & set(parts):
            prediction, positions = self._electronic
            if self._orbitals is None:  # one eigendecomposition per geometry, shared by both
                hamiltonian = prediction.hamiltonian.detach().to(torch.float64)
                self._orbitals = solve_orbitals(0.5 * (hamiltonian + hamiltonian.mT), prediction.nocc)
            if "orbitals" in parts:
                results.update(overlap=numpy(overlap_matrix(numbers, positions)),
                               orbital_coefficients=numpy(self._orbitals.coefficients))
            if "excitations" in parts and self.stda_settings is not None:
                from ase_mlham.excitations import stda_excitations

                with torch.no_grad():
                    states = stda_excitations(self._orbitals.energies, self._orbitals.coefficients, numbers,
                                              positions, prediction.nocc, self.stda_settings)
                results.update(excitation_energies=numpy(states.energies),
                               oscillator_strengths=numpy(states.oscillator_strengths))
            if ("excitation_uncertainties" in parts and self.stda_settings is not None
                    and prediction.member_hamiltonians is not None):
                n_states = len(results.get("excitation_energies", self.results.get("excitation_energies", ())))
                results["excitation_energy_uncertainties"] = self._excitation_uncertainties(
                    prediction, numbers, positions, n_states)
        return results

    def _excitation_uncertainties(self, prediction, numbers, positions, n_states: int) -> np.ndarray:
        """Calibrated spread of the sTDA excitation energies over the committee's Hamiltonians, ``(n_states,)`` eV."""
        from ase_mlham.electronic import solve_orbitals
        from ase_mlham.excitations import stda_excitations

        energies = []
        with torch.no_grad():
            for member in prediction.member_hamiltonians:  # one (n_ao, n_ao) matrix at a time
                member = member.to(torch.float64)
                orbitals = solve_orbitals(0.5 * (member + member.mT), prediction.nocc)
                states = stda_excitations(orbitals.energies, orbitals.coefficients, numbers,
                                          positions.detach().to(torch.float64), prediction.nocc, self.stda_settings)
                padded = torch.full((n_states,), float("nan"), dtype=torch.float64)
                padded[:min(n_states, len(states.energies))] = states.energies[:n_states]
                energies.append(padded)
        spread = self.model.committee.spread(torch.stack(energies), "excitation")
        return spread.detach().to(device="cpu", dtype=torch.float64).numpy().copy()

    def _result(self, name: str):
        """A result of the last geometry, computed if it was reset (no new geometry)."""
        if self.atoms is None:
            raise RuntimeError(f"{type(self).__name__} has no structure yet: attach it to an Atoms "
                               "(atoms.calc = calc) and call e.g. atoms.get_potential_energy() first")
        return self.get_property(name)

    # -------------------------------------------------- ASE electronic helpers
    def get_number_of_spins(self) -> int:
        """1: closed-shell molecules, one spin channel."""
        return 1

    def get_spin_polarized(self) -> bool:
        """False: closed-shell molecules."""
        return False

    def get_ibz_k_points(self) -> np.ndarray:
        """A molecule has one k-point, Gamma: ``(1, 3)`` zeros."""
        return np.zeros((1, 3))

    def get_bz_k_points(self) -> np.ndarray:
        """Same as :meth:`get_ibz_k_points`."""
        return self.get_ibz_k_points()

    def get_k_point_weights(self) -> np.ndarray:
        """``[1.0]``: the single Gamma point."""
        return np.ones(1)

    def get_number_of_bands(self) -> int:
        """Number of orbitals, i.e. minimal-basis functions (H 1, C/N/O 5)."""
        return int(self._result("eigenvalues").shape[-1])

    def get_eigenvalues(self, kpt: int = 0, spin: int = 0) -> np.ndarray:
        """Orbital energies, eV, ascending, ``(n_orbitals,)``; only ``kpt=0, spin=0`` exist."""
        self._check_channel(kpt, spin)
        return self._result("eigenvalues")[0, 0].copy()

    def get_occupation_numbers(self, kpt: int = 0, spin: int = 0) -> np.ndarray:
        """Electrons per orbital, 2 for the lowest ``n_electrons / 2`` orbitals and 0 above."""
        self._check_channel(kpt, spin)
        occupations = np.zeros(self.get_number_of_bands())
        occupations[: self.nocc] = 2.0
        return occupations

    def get_fermi_level(self) -> float:
        """Midpoint of HOMO and LUMO, eV."""
        return float(self._result("fermi_level"))

    def get_homo_lumo(self) -> tuple[float, float]:
        """``(HOMO, LUMO)`` orbital energies, eV."""
        eigenvalues = self.get_eigenvalues()
        return float(eigenvalues[self.nocc - 1]), float(eigenvalues[self.nocc])

    def get_homo_lumo_gap(self) -> float:
        """LUMO minus HOMO, eV."""
        return float(self._result("homo_lumo_gap"))

    def get_hamiltonian(self) -> np.ndarray:
        """H' in the Löwdin-orthogonal STO-3G basis, eV, ``(n_orbitals, n_orbitals)``, PySCF AO order."""
        return self._result("hamiltonian")

    def get_overlap(self) -> np.ndarray:
        """Analytic STO-3G overlap matrix S, ``(n_orbitals, n_orbitals)``, PySCF AO order."""
        return self._result("overlap")

    def get_nonorthogonal_hamiltonian(self) -> np.ndarray:
        r"""The Hamiltonian in the non-orthogonal STO-3G AO basis, :math:`H = S^{1/2} H' S^{1/2}`, eV.

        The generalised eigenproblem :math:`H C = S C \varepsilon` has the same
        eigenvalues as :math:`H'`.
        """
        from ase_mlham.basis import lowdin_back_transform

        hamiltonian = torch.as_tensor(self.get_hamiltonian())
        overlap = torch.as_tensor(self.get_overlap())
        return lowdin_back_transform(hamiltonian, overlap).numpy()

    def get_orbital_coefficients(self, orthogonal: bool = True) -> np.ndarray:
        r"""Orbital coefficients, column k is orbital k, ``(n_orbitals, n_orbitals)``.

        ``orthogonal=True``: eigenvectors :math:`C'` of H' (Löwdin basis, orthonormal
        columns). ``orthogonal=False``: AO-basis coefficients :math:`C = S^{-1/2} C'`,
        normalised as :math:`C^T S C = 1`.
        """
        coefficients = self._result("orbital_coefficients")
        if orthogonal:
            return coefficients
        from ase_mlham.basis import lowdin_orthogonalizer

        orthogonalizer = lowdin_orthogonalizer(torch.as_tensor(self.get_overlap())).numpy()
        return orthogonalizer @ coefficients

    def orbital_summary(self) -> dict[str, float]:
        """Scalars for logging next to a trajectory: ``homo``, ``lumo``, ``homo_lumo_gap``, ``fermi_level`` (eV)."""
        homo, lumo = self.get_homo_lumo()
        return {"homo": homo, "lumo": lumo, "homo_lumo_gap": lumo - homo, "fermi_level": self.get_fermi_level()}

    def get_excitations(self) -> tuple[np.ndarray, np.ndarray]:
        """``(excitation_energies, oscillator_strengths)``: eV ascending and dimensionless, ``(n,)`` each."""
        return self._result("excitation_energies"), self._result("oscillator_strengths")

    def excitation_summary(self) -> dict[str, float]:
        """Scalars for logging: ``s1_eV`` (lowest excitation, eV) and ``s1_oscillator_strength``;
        NaN when excitations are switched off."""
        if self.n_excitations == 0:
            return {"s1_eV": float("nan"), "s1_oscillator_strength": float("nan")}
        energies, strengths = self.get_excitations()
        return {"s1_eV": float(energies[0]), "s1_oscillator_strength": float(strengths[0])}

    @staticmethod
    def _check_channel(kpt: int, spin: int) -> None:
        if kpt != 0 or spin != 0:
            raise IndexError(f"a molecule has one k-point and one spin channel (kpt=0, spin=0); "
                             f"got kpt={kpt}, spin={spin}")
