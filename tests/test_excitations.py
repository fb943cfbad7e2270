"""sTDA excitations: against PySCF TDA, against an explicit-loop reference, symmetry, gradients, errors."""

import dataclasses
import functools
import math

import numpy as np
import pytest
import torch
from ase.build import molecule

from ase_mlham.basis import STO3G_SHELLS, lowdin_transform, overlap_matrix
from ase_mlham.excitations import STDASettings, lowdin_dipole_integrals, stda_excitations, stda_from_hamiltonian
from ase_mlham.excitations.integrals import mnok_gamma
from ase_mlham.excitations.parameters import CHEMICAL_HARDNESS_HARTREE, coulomb_exponent, exchange_exponent
from ase_mlham.units import BOHR_TO_ANGSTROM, HARTREE_TO_EV

#: Every CSF, no selection: the reference the selection-free checks compare with.
FULL = STDASettings(n_states=6, energy_window=math.inf, csfs_per_state=None, perturbative_threshold=None)

# Extended-Hückel on-site energies (eV) per (Z, n, l): a cheap, rotation- and permutation-equivariant
# H' with a sensible orbital spectrum, so the checks do not need a trained model.
_ONSITE = {(1, 1, 0): -13.6, (6, 1, 0): -290.0, (6, 2, 0): -21.4, (6, 2, 1): -11.4, (7, 1, 0): -400.0,
           (7, 2, 0): -26.0, (7, 2, 1): -13.4, (8, 1, 0): -540.0, (8, 2, 0): -32.3, (8, 2, 1): -14.8}


def huckel_hamiltonian(numbers, positions: torch.Tensor) -> torch.Tensor:
    """Löwdin-orthogonal extended-Hückel H' (eV), differentiable in ``positions`` (Angstrom)."""
    onsite = torch.tensor([_ONSITE[(int(z), shell.n, shell.l)] for z in numbers for shell in STO3G_SHELLS[int(z)]
                           for _ in range(2 * shell.l + 1)], dtype=positions.dtype)
    overlap = overlap_matrix(numbers, positions)
    off_site = 1.75 * overlap * 0.5 * (onsite[:, None] + onsite[None, :])
    eye = torch.eye(len(onsite), dtype=positions.dtype)
    return lowdin_transform(off_site * (1 - eye) + torch.diag(onsite), overlap)


def distorted(name: str, seed: int = 0):
    """A G2 molecule off its symmetric geometry: no degenerate orbitals or excitations."""
    atoms = molecule(name)
    atoms.rattle(stdev=0.05, seed=seed)
    return atoms


def huckel_excitations(atoms, settings=FULL, positions=None):
    positions = torch.tensor(atoms.positions) if positions is None else positions
    return stda_from_hamiltonian(huckel_hamiltonian(atoms.numbers, positions), atoms.numbers, positions,
                                 settings=settings)


def random_rotation(seed: int) -> np.ndarray:
    q, r = np.linalg.qr(np.random.default_rng(seed).normal(size=(3, 3)))
    q *= np.sign(np.diag(r))
    return q if np.linalg.det(q) > 0 else -q


# --------------------------------------------------------------------------- against references


def explicit_stda(energies, coefficients, numbers, positions, nocc, a_x=0.2):
    """sTDA written out with loops over i, a, j, b and atoms (NumPy): the formulas of Grimme 2013."""
    slices, start = [], 0
    for z in numbers:
        size = sum(2 * shell.l + 1 for shell in STO3G_SHELLS[int(z)])
        slices.append(slice(start, start + size))
        start += size
    n_atoms, n_orbitals = len(numbers), len(energies)
    charges = np.array([[[coefficients[s, p] @ coefficients[s, q] for q in range(n_orbitals)]
                         for p in range(n_orbitals)] for s in slices])  # (A, p, q)
    bohr = positions / BOHR_TO_ANGSTROM
    eta = np.array([CHEMICAL_HARDNESS_HARTREE[int(z)] for z in numbers])
    gamma_j, gamma_k = np.zeros((n_atoms, n_atoms)), np.zeros((n_atoms, n_atoms))
    alpha, beta = 1.42 + 0.48 * a_x, 0.20 + 1.83 * a_x
    for a in range(n_atoms):
        for b in range(n_atoms):
            r, h = np.linalg.norm(bohr[a] - bohr[b]), 0.5 * (eta[a] + eta[b])
            gamma_k[a, b] = (r**alpha + h**-alpha) ** (-1 / alpha)
            gamma_j[a, b] = (r**beta + (a_x * h) ** -beta) ** (-1 / beta)
    csfs = [(i, a) for i in range(nocc) for a in range(nocc, n_orbitals)]
    matrix = np.zeros((len(csfs), len(csfs)))
    for u, (i, a) in enumerate(csfs):
        for v, (j, b) in enumerate(csfs):
            exchange = charges[:, i, a] @ gamma_k @ charges[:, j, b]
            coulomb = charges[:, i, j] @ gamma_j @ charges[:, a, b]
            matrix[u, v] = (u == v) * (energies[a] - energies[i]) + HARTREE_TO_EV * (2 * exchange - coulomb)
    return np.linalg.eigvalsh(matrix)


def test_full_space_equals_explicit_loops():
    atoms = distorted("CH3OH")
    positions = torch.tensor(atoms.positions)
    energies, coefficients = torch.linalg.eigh(huckel_hamiltonian(atoms.numbers, positions))
    nocc = 9
    result = stda_excitations(energies, coefficients, atoms.numbers, positions, nocc, FULL)
    expected = explicit_stda(energies.numpy(), coefficients.numpy(), atoms.numbers, atoms.positions, nocc)
    np.testing.assert_allclose(result.energies.numpy(), expected[:FULL.n_states], atol=1e-10)
    assert result.n_primary == nocc * (len(energies) - nocc) and result.n_secondary == 0


def test_mnok_limits():
    numbers = [6, 8]
    positions = torch.tensor([[0.0, 0.0, 0.0], [0.0, 0.0, 30.0]], dtype=torch.float64)
    gamma_k = mnok_gamma(numbers, positions, exchange_exponent(0.2))
    gamma_j = mnok_gamma(numbers, positions, coulomb_exponent(0.2), hardness_scale=0.2)
    # on site: the hardness (scaled by a_x for J); far apart: 1/R (Hartree, Bohr)
    assert float(gamma_k[0, 0]) == pytest.approx(CHEMICAL_HARDNESS_HARTREE[6])
    assert float(gamma_j[1, 1]) == pytest.approx(0.2 * CHEMICAL_HARDNESS_HARTREE[8])
    assert float(gamma_k[0, 1]) == pytest.approx(BOHR_TO_ANGSTROM / 30.0, rel=1e-2)
    assert 0 < float(gamma_j[0, 1]) < BOHR_TO_ANGSTROM / 30.0  # J is damped much more strongly (beta < 1)
    assert torch.equal(gamma_k, gamma_k.T)


@functools.lru_cache(maxsize=None)  # shared by the tests of this module, read-only
def _pyscf_sto3g(name: str):
    """B3LYP/STO-3G ground state and its 5 lowest TDA singlets (eV) at the G2 geometry."""
    from pyscf import dft, gto, tdscf

    atoms = molecule(name)
    mol = gto.M(atom=[(s, tuple(p)) for s, p in zip(atoms.get_chemical_symbols(), atoms.positions)],
                basis="sto-3g", unit="Angstrom", verbose=0)
    mf = dft.RKS(mol)
    mf.xc, mf.conv_tol = "b3lyp", 1e-10
    mf.kernel()
    td = tdscf.TDA(mf)
    td.nstates = 5
    td.kernel()
    return atoms, mol, mf, td.e * HARTREE_TO_EV, np.asarray(td.oscillator_strength())


@pytest.mark.parametrize("name", ["H2CO", "CH3CHO"])
def test_exact_sto3g_hamiltonian_reproduces_pyscf_tda(name):
    """sTDA on the Löwdin-orthogonalised B3LYP/STO-3G Kohn-Sham matrix vs TDA-B3LYP/STO-3G:
    S1 and the brightest of the lowest five states within sTDA's known accuracy (0.5 eV)."""
    atoms, _, mf, tda_energies, tda_strengths = _pyscf_sto3g(name)
    hamiltonian = lowdin_transform(torch.tensor(mf.get_fock()) * HARTREE_TO_EV, torch.tensor(mf.get_ovlp()))
    result = stda_from_hamiltonian(hamiltonian, atoms.numbers, torch.tensor(atoms.positions),
                                   settings=STDASettings(n_states=5))
    energies, strengths = result.energies.numpy(), result.oscillator_strengths.numpy()
    assert abs(energies[0] - tda_energies[0]) < 0.5
    assert strengths[0] < 1e-3 and tda_strengths[0] < 1e-3  # the n -> pi* state is dark in both
    bright, tda_bright = np.argmax(strengths), np.argmax(tda_strengths)
    assert abs(energies[bright] - tda_energies[tda_bright]) < 0.5
    # minimal-basis sTDA's strengths are ~1.6x TDA's (median over the benchmark's molecules; here 1.83 and
    # 1.65): outside 1.3-2.2 the transition dipoles or the states changed, not the known bias
    assert 1.3 < strengths[bright] / tda_strengths[tda_bright] < 2.2


def test_lowdin_dipoles_equal_pyscf_orbital_dipoles():
    atoms, mol, mf, _, _ = _pyscf_sto3g("H2CO")
    overlap = torch.tensor(mf.get_ovlp())
    eigenvalues, eigenvectors = torch.linalg.eigh(overlap)
    lowdin_coefficients = (eigenvectors * eigenvalues.sqrt()) @ eigenvectors.T @ torch.tensor(mf.mo_coeff)
    ours = torch.einsum("mp,xmn,nq->xpq", lowdin_coefficients, lowdin_dipole_integrals(
        atoms.numbers, torch.tensor(atoms.positions)), lowdin_coefficients).numpy()
    theirs = np.einsum("mp,xmn,nq->xpq", mf.mo_coeff, mol.intor("int1e_r"), mf.mo_coeff) * BOHR_TO_ANGSTROM
    off_diagonal = ~np.eye(mol.nao, dtype=bool)  # <p|r|q>, p != q: independent of the origin
    np.testing.assert_allclose(ours[:, off_diagonal], theirs[:, off_diagonal], atol=1e-9)


# --------------------------------------------------------------------------- shapes, units, selection


def test_shapes_units_and_normalisation():
    atoms = distorted("C4H4O")
    result = huckel_excitations(atoms, STDASettings(n_states=7))
    n = 7
    assert result.energies.shape == (n,) and result.oscillator_strengths.shape == (n,)
    assert result.transition_dipoles.shape == (n, 3) and result.amplitudes.shape[0] == n
    assert result.occupied.shape == result.virtual.shape == (result.amplitudes.shape[1],)
    assert bool((result.energies[1:] >= result.energies[:-1]).all()) and float(result.energies[0]) > 0
    assert bool((result.oscillator_strengths >= 0).all())
    torch.testing.assert_close(result.amplitudes @ result.amplitudes.T, torch.eye(n, dtype=torch.float64))
    nocc = int(atoms.numbers.sum()) // 2
    assert int(result.occupied.max()) < nocc <= int(result.virtual.min())
    # f = 2/3 E |mu|^2 in atomic units
    mu_bohr = result.transition_dipoles / BOHR_TO_ANGSTROM
    torch.testing.assert_close(result.oscillator_strengths,
                               2 / 3 * result.energies / HARTREE_TO_EV * (mu_bohr**2).sum(-1))


def test_fewer_states_than_requested_when_the_minimal_basis_has_few():
    atoms = molecule("H2")
    result = huckel_excitations(atoms, STDASettings(n_states=10))
    assert result.n_states == 1  # one occupied, one virtual orbital


def test_selection_converges_to_the_full_space():
    atoms = distorted("CH3CH2OH")
    full = huckel_excitations(atoms)
    default = huckel_excitations(atoms, STDASettings(n_states=6))
    primary_only = huckel_excitations(atoms, STDASettings(n_states=6, perturbative_threshold=None))
    assert default.n_primary + default.n_secondary < full.n_primary
    assert float((default.energies - full.energies).abs().max()) < 0.05
    assert float((primary_only.energies - full.energies).abs().max()) < 0.3
    budget = huckel_excitations(atoms, STDASettings(n_states=6, csfs_per_state=2))
    assert budget.n_primary + budget.n_secondary <= 12


def _space(name: str, seed: int = 0):
    """The full CSF space of a distorted G2 molecule with an extended-Hückel H'."""
    from ase_mlham.excitations.integrals import ao_slots
    from ase_mlham.excitations.matrix import CSFSpace

    atoms = distorted(name, seed)
    positions = torch.tensor(atoms.positions)
    energies, coefficients = torch.linalg.eigh(huckel_hamiltonian(atoms.numbers, positions))
    nocc = int(atoms.numbers.sum()) // 2
    return CSFSpace(energies[:nocc], energies[nocc:], coefficients[:, :nocc], coefficients[:, nocc:],
                    ao_slots(atoms.numbers), mnok_gamma(atoms.numbers, positions, exchange_exponent(0.2)),
                    mnok_gamma(atoms.numbers, positions, coulomb_exponent(0.2), hardness_scale=0.2))


def test_diagonal_bound_and_lazy_selection_equal_the_brute_force_ones(monkeypatch):
    """The selection computes exact diagonal elements only where the cheap bound allows a CSF among
    the lowest: its threshold and primary CSFs are those of the whole diagonal."""
    from ase_mlham.excitations import matrix
    from ase_mlham.excitations.selection import energy_threshold, primary_csfs

    monkeypatch.setattr(matrix, "FIRST_ROUND", 4)

    full = _space("CH3CH2OH").diagonal()
    assert bool((_space("CH3CH2OH").diagonal_lower_bound() <= full + 1e-12).all())
    torch.testing.assert_close(_space("CH3CH2OH").block(torch.arange(len(full)), torch.arange(len(full))).diagonal(),
                               full, rtol=0, atol=1e-12)
    for window, budget in ((7.0, None), (7.0, 40), (2.0, 200), (math.inf, 5), (1000.0, len(full))):
        space = _space("CH3CH2OH")
        expected = float(full.min()) + window
        if budget is not None and budget < len(full):  # a budget of every CSF caps nothing
            expected = min(expected, float(torch.kthvalue(full, budget).values))
        threshold = energy_threshold(space, window, budget)
        assert threshold == pytest.approx(expected, abs=1e-12)
        if window < 100:  # not every CSF was needed (a 1000 eV window holds them all)
            assert int(torch.isnan(space._diagonal).sum()) > len(full) // 2
        expected_primary = torch.nonzero(full <= threshold + 1e-12).flatten()
        if len(expected_primary) < 6:  # at least n_states: the lowest ones
            expected_primary = torch.sort(torch.argsort(full)[:6]).values
        np.testing.assert_array_equal(primary_csfs(space, threshold, 6).numpy(), expected_primary.numpy())


@pytest.mark.parametrize("settings", [FULL, STDASettings(n_states=6), STDASettings(n_states=6, energy_window=2.0, csfs_per_state=3)],
                         ids=["full", "selected", "budget"])
def test_results_do_not_depend_on_the_batch_size(settings, monkeypatch):
    """Memory is bounded by building everything a batch (tile) of CSFs at a time: tiny batches give the
    same states as one batch."""
    from ase_mlham.excitations import matrix

    atoms = distorted("CH3CH2OH", seed=4)
    reference = huckel_excitations(atoms, settings)
    assert settings is FULL or reference.n_secondary > 0
    monkeypatch.setattr(matrix, "BATCH_ELEMENTS", 97)
    batched = huckel_excitations(atoms, settings)
    _assert_same(reference, batched, atol=1e-10)
    assert (batched.n_primary, batched.n_secondary) == (reference.n_primary, reference.n_secondary)


# --------------------------------------------------------------------------- symmetry


def _assert_same(first, second, atol=1e-8):
    np.testing.assert_allclose(first.energies.numpy(), second.energies.numpy(), atol=atol)
    np.testing.assert_allclose(first.oscillator_strengths.numpy(), second.oscillator_strengths.numpy(), atol=atol)


@pytest.mark.parametrize("settings", [FULL, STDASettings(n_states=6)], ids=["full", "selected"])
def test_invariant_under_rotation_translation_and_permutation(settings):
    atoms = distorted("CH3CHO", seed=3)
    reference = huckel_excitations(atoms, settings)
    moved = atoms.copy()
    moved.positions = atoms.positions @ random_rotation(7).T + np.array([3.0, -20.0, 7.5])
    _assert_same(reference, huckel_excitations(moved, settings))
    order = np.random.default_rng(2).permutation(len(atoms))
    _assert_same(reference, huckel_excitations(atoms[order], settings))


# --------------------------------------------------------------------------- gradients


def test_gradcheck_positions_through_hamiltonian_and_dipoles():
    atoms = distorted("H2O", seed=5)
    settings = STDASettings(n_states=3)

    def excitations(positions):
        result = huckel_excitations(atoms, settings, positions)
        return result.energies, result.oscillator_strengths

    positions = torch.tensor(atoms.positions, requires_grad=True)
    assert torch.autograd.gradcheck(excitations, (positions,), eps=1e-6, atol=1e-5)


def test_gradcheck_orbital_energies_and_coefficients():
    atoms = distorted("NH3", seed=1)
    positions = torch.tensor(atoms.positions)
    energies, coefficients = torch.linalg.eigh(huckel_hamiltonian(atoms.numbers, positions))

    def excitations(energies, coefficients):
        result = stda_excitations(energies, coefficients, atoms.numbers, positions, 5, STDASettings(n_states=3))
        return result.energies, result.oscillator_strengths

    inputs = (energies.clone().requires_grad_(), coefficients.clone().requires_grad_())
    assert torch.autograd.gradcheck(excitations, inputs, eps=1e-6, atol=1e-5)


# --------------------------------------------------------------------------- bad input


def _water():
    atoms = molecule("H2O")
    positions = torch.tensor(atoms.positions)
    energies, coefficients = torch.linalg.eigh(huckel_hamiltonian(atoms.numbers, positions))
    return dict(orbital_energies=energies, coefficients=coefficients, numbers=atoms.numbers,
                positions=positions, nocc=5)


@pytest.mark.parametrize("change, error, match", [
    (lambda k: {"orbital_energies": k["orbital_energies"].numpy()}, TypeError, "orbital_energies must be a torch"),
    (lambda k: {"coefficients": k["coefficients"].float()}, TypeError, "coefficients must have the dtype"),
    (lambda k: {"orbital_energies": k["orbital_energies"][:6]}, ValueError, r"shape \(n_orbitals,\) = \(7,\)"),
    (lambda k: {"coefficients": k["coefficients"][:, :6]}, ValueError, r"coefficients must have shape"),
    (lambda k: {"orbital_energies": k["orbital_energies"].flip(0)}, ValueError, "ascending order"),
    (lambda k: {"orbital_energies": k["orbital_energies"] * float("nan")}, ValueError, "must be finite"),
    (lambda k: {"nocc": 7}, ValueError, "nocc must be between 1 and n_orbitals - 1 = 6"),
    (lambda k: {"nocc": 2.5}, TypeError, "nocc must be an integer"),
    (lambda k: {"numbers": [9, 1, 1]}, ValueError, "unsupported element.*F"),
    (lambda k: {"positions": k["positions"][:2]}, ValueError, r"positions must have shape \(n_atoms, 3\)"),
])
def test_bad_inputs_are_named(change, error, match):
    arguments = _water()
    arguments.update(change(arguments))
    with pytest.raises(error, match=match):
        stda_excitations(**arguments)


@pytest.mark.parametrize("kwargs, match", [
    ({"n_states": 0}, "n_states must be a positive integer"),
    ({"a_x": 1.5}, r"a_x must be a number in \[0, 1\]"),
    ({"energy_window": -1.0}, "energy_window must be a positive number"),
    ({"csfs_per_state": 0}, "csfs_per_state must be None or a positive integer"),
    ({"perturbative_threshold": -1e-3}, "perturbative_threshold must be None or a non-negative"),
])
def test_settings_are_validated(kwargs, match):
    with pytest.raises(ValueError, match=match):
        STDASettings(**kwargs)


def test_other_bad_arguments():
    arguments = _water()
    with pytest.raises(TypeError, match="settings must be an STDASettings"):
        stda_excitations(**arguments, settings={"n_states": 3})
    with pytest.raises(ValueError, match="square"):
        stda_from_hamiltonian(torch.zeros(7, 6, dtype=torch.float64), arguments["numbers"], arguments["positions"])
    assert dataclasses.replace(STDASettings(), n_states=3).a_x == 0.2  # B3LYP's exchange fraction by default
