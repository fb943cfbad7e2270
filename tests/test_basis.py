"""STO-3G integrals and Loewdin orthogonalisation against PySCF, finite differences and symmetry."""

import itertools

import numpy as np
import pytest
import torch
from ase.build import molecule
from ase.data import chemical_symbols

from ase_mlham.basis import (
    ao_labels,
    ao_slices,
    dipole_integrals,
    lowdin_back_transform,
    lowdin_orthogonalizer,
    lowdin_transform,
    n_basis_functions,
    overlap_matrix,
)
from ase_mlham.units import BOHR_TO_ANGSTROM

gto = pytest.importorskip("pyscf.gto")

ELEMENTS = (1, 6, 7, 8)
MOLECULES = ("CH3CHO", "H2O", "HCN", "CH4", "C6H6")


def pyscf_molecule(numbers, positions):
    """PySCF sto-3g molecule; positions in Angstrom."""
    atoms = [(chemical_symbols[int(z)], tuple(map(float, xyz))) for z, xyz in zip(numbers, positions)]
    n_electrons = int(np.sum(numbers))
    return gto.M(atom=atoms, basis="sto-3g", unit="Angstrom", spin=n_electrons % 2)


def random_pair(number_a, number_b, seed):
    """Two atoms at a random distance (0.4-4 Angstrom) and orientation, off the origin."""
    rng = np.random.default_rng(seed)
    direction = rng.normal(size=3)
    direction /= np.linalg.norm(direction)
    first = rng.uniform(-2.0, 2.0, size=3)
    return np.array([number_a, number_b]), np.stack([first, first + rng.uniform(0.4, 4.0) * direction])


def random_cluster(n_atoms, seed, min_distance=0.9):
    """A compact random H/C/N/O cluster with no two atoms closer than ``min_distance`` Angstrom."""
    rng = np.random.default_rng(seed)
    positions = []
    while len(positions) < n_atoms:
        trial = rng.uniform(-2.5, 2.5, size=3)
        if all(np.linalg.norm(trial - p) > min_distance for p in positions):
            positions.append(trial)
    return rng.choice(ELEMENTS, size=n_atoms), np.array(positions)


def geometries():
    """(label, numbers, positions) of whole molecules and mixed random clusters."""
    for name in MOLECULES:
        atoms = molecule(name)
        rattled = atoms.positions + np.random.default_rng(len(name)).normal(scale=0.05, size=atoms.positions.shape)
        yield name, atoms.numbers, rattled
    for seed in range(3):
        yield (f"cluster{seed}", *random_cluster(9, seed))


GEOMETRIES = list(geometries())
GEOMETRY_IDS = [label for label, _, _ in GEOMETRIES]
PAIRS = list(itertools.product(ELEMENTS, repeat=2))
PAIR_IDS = [f"{chemical_symbols[a]}{chemical_symbols[b]}" for a, b in PAIRS]


def as_tensor(positions, dtype=torch.float64):
    return torch.tensor(np.asarray(positions), dtype=dtype)


def p_rotation(numbers, rotation):
    """Block-diagonal AO transformation of a rotation: 1 on s functions, ``rotation`` on (px, py, pz)."""
    labels = ao_labels(numbers)
    transform = torch.eye(len(labels), dtype=torch.float64)
    for k, label in enumerate(labels):
        if label.split()[2].endswith("px"):
            transform[k : k + 3, k : k + 3] = rotation
    return transform


def random_rotation(seed):
    q, r = np.linalg.qr(np.random.default_rng(seed).normal(size=(3, 3)))
    q = q * np.sign(np.diag(r))
    if np.linalg.det(q) < 0:
        q[:, 0] *= -1
    return torch.tensor(q)


def central_difference(function, positions, step=1e-5):
    gradient = torch.zeros_like(positions)
    for index in np.ndindex(*positions.shape):
        plus, minus = positions.clone(), positions.clone()
        plus[index] += step
        minus[index] -= step
        gradient[index] = (function(plus) - function(minus)) / (2 * step)
    return gradient


# ------------------------------------------------------------------ PySCF agreement


@pytest.mark.parametrize("numbers_pair", PAIRS, ids=PAIR_IDS)
def test_overlap_and_dipole_of_every_element_pair_match_pyscf(numbers_pair):
    for seed in range(3):
        numbers, positions = random_pair(*numbers_pair, seed)
        mol = pyscf_molecule(numbers, positions)
        overlap = overlap_matrix(numbers, as_tensor(positions))
        np.testing.assert_allclose(overlap.numpy(), mol.intor("int1e_ovlp"), rtol=0, atol=1e-10)
        dipoles = dipole_integrals(numbers, as_tensor(positions))
        np.testing.assert_allclose(dipoles.numpy(), mol.intor("int1e_r") * BOHR_TO_ANGSTROM, rtol=0, atol=1e-10)


@pytest.mark.parametrize("label, numbers, positions", GEOMETRIES, ids=GEOMETRY_IDS)
def test_molecule_integrals_match_pyscf(label, numbers, positions):
    mol = pyscf_molecule(numbers, positions)
    assert ao_labels(numbers) == mol.ao_labels()
    assert n_basis_functions(numbers) == mol.nao
    overlap = overlap_matrix(numbers, as_tensor(positions))
    assert overlap.shape == (mol.nao, mol.nao) and overlap.dtype == torch.float64
    np.testing.assert_allclose(overlap.numpy(), mol.intor("int1e_ovlp"), rtol=0, atol=1e-10)
    np.testing.assert_allclose(torch.diagonal(overlap).numpy(), 1.0, rtol=0, atol=1e-12)

    dipoles = dipole_integrals(numbers, as_tensor(positions))
    assert dipoles.shape == (3, mol.nao, mol.nao)
    np.testing.assert_allclose(dipoles.numpy(), mol.intor("int1e_r") * BOHR_TO_ANGSTROM, rtol=0, atol=1e-10)

    origin = np.array([0.7, -1.3, 2.1])  # Angstrom
    mol.set_common_orig(origin / BOHR_TO_ANGSTROM)
    reference = mol.intor("int1e_r") * BOHR_TO_ANGSTROM
    for given in (origin, torch.tensor(origin), origin.tolist()):
        shifted = dipole_integrals(numbers, as_tensor(positions), origin=given)
        np.testing.assert_allclose(shifted.numpy(), reference, rtol=0, atol=1e-10)


def test_dipole_of_a_normalised_function_is_its_centre():
    numbers, positions = random_cluster(6, seed=11)
    dipoles = dipole_integrals(numbers, as_tensor(positions))
    for atom, block in enumerate(ao_slices(numbers)):
        diagonal = torch.diagonal(dipoles[:, block, block], dim1=-2, dim2=-1)
        np.testing.assert_allclose(diagonal.numpy(), np.repeat(positions[atom][:, None], diagonal.shape[1], 1),
                                   rtol=0, atol=1e-12)


# ------------------------------------------------------------------ gradients


@pytest.mark.parametrize("integral", ["overlap", "dipole"])
def test_position_gradient_matches_central_differences(integral):
    numbers, positions = random_cluster(5, seed=3)
    positions = as_tensor(positions)
    compute = overlap_matrix if integral == "overlap" else dipole_integrals
    weights = torch.randn(compute(numbers, positions).shape, dtype=torch.float64,
                          generator=torch.Generator().manual_seed(0))

    def functional(x):
        return (weights * compute(numbers, x)).sum()

    variable = positions.clone().requires_grad_()
    (analytic,) = torch.autograd.grad(functional(variable), variable)
    with torch.no_grad():
        numeric = central_difference(functional, positions)
    assert torch.allclose(analytic, numeric, rtol=1e-7, atol=1e-7 * numeric.abs().max())


def test_dipole_gradient_with_respect_to_origin():
    numbers, positions = random_cluster(4, seed=5)
    origin = torch.tensor([0.3, 0.2, -0.4], dtype=torch.float64, requires_grad=True)
    dipoles = dipole_integrals(numbers, as_tensor(positions), origin=origin)
    overlap = overlap_matrix(numbers, as_tensor(positions))
    (gradient,) = torch.autograd.grad(dipoles.sum(), origin)
    # d<mu|r - O|nu>/dO_k = -S_{mu nu} delta_k
    assert torch.allclose(gradient, -overlap.sum().expand(3), rtol=1e-12, atol=0)


def test_lowdin_gradient_is_finite_and_correct_at_degenerate_overlap_eigenvalues():
    atoms = molecule("CH4")  # tetrahedral: triply degenerate eigenvalues of S
    positions = as_tensor(atoms.positions)
    eigenvalues = torch.linalg.eigvalsh(overlap_matrix(atoms.numbers, positions))
    assert (eigenvalues[1:] - eigenvalues[:-1]).abs().min() < 1e-12
    generator = torch.Generator().manual_seed(1)
    hamiltonian = torch.randn(9, 9, dtype=torch.float64, generator=generator)
    hamiltonian = hamiltonian + hamiltonian.T
    weights = torch.randn(9, 9, dtype=torch.float64, generator=generator)

    def functional(x):
        overlap = overlap_matrix(atoms.numbers, x)
        return (weights * lowdin_transform(hamiltonian, overlap)).sum() + lowdin_back_transform(
            hamiltonian, overlap)[0, 4]

    variable = positions.clone().requires_grad_()
    (analytic,) = torch.autograd.grad(functional(variable), variable)
    assert torch.isfinite(analytic).all()
    with torch.no_grad():
        numeric = central_difference(functional, positions)
    assert torch.allclose(analytic, numeric, rtol=1e-6, atol=1e-7 * numeric.abs().max())


# ------------------------------------------------------------------ symmetry


@pytest.mark.parametrize("label, numbers, positions", GEOMETRIES[:3], ids=GEOMETRY_IDS[:3])
def test_rotation_transforms_p_blocks_by_the_rotation_matrix(label, numbers, positions):
    rotation = random_rotation(seed=len(label))
    positions = as_tensor(positions)
    rotated = positions @ rotation.T
    transform = p_rotation(numbers, rotation)

    overlap = overlap_matrix(numbers, positions)
    assert torch.allclose(overlap_matrix(numbers, rotated), transform @ overlap @ transform.T, rtol=0, atol=1e-12)

    dipoles = dipole_integrals(numbers, positions)
    expected = torch.einsum("kl,lmn->kmn", rotation, transform @ dipoles @ transform.T)
    assert torch.allclose(dipole_integrals(numbers, rotated), expected, rtol=0, atol=1e-12)


def test_translation_invariance_and_dipole_origin_shift():
    numbers, positions = random_cluster(6, seed=8)
    positions = as_tensor(positions)
    shift = torch.tensor([1.5, -0.2, 3.0], dtype=torch.float64)
    overlap = overlap_matrix(numbers, positions)
    assert torch.allclose(overlap_matrix(numbers, positions + shift), overlap, rtol=0, atol=1e-13)
    assert torch.allclose(dipole_integrals(numbers, positions + shift, origin=shift),
                          dipole_integrals(numbers, positions), rtol=0, atol=1e-12)


def test_atom_order_permutes_the_ao_blocks():
    numbers, positions = random_cluster(7, seed=2)
    order = np.random.default_rng(0).permutation(len(numbers))
    slices = ao_slices(numbers)
    ao_order = np.concatenate([np.arange(slices[k].start, slices[k].stop) for k in order])
    overlap = overlap_matrix(numbers, as_tensor(positions))
    permuted = overlap_matrix(numbers[order], as_tensor(positions[order]))
    assert torch.allclose(permuted, overlap[ao_order][:, ao_order], rtol=0, atol=1e-14)


# ------------------------------------------------------------------ dtype, Loewdin


def test_float32_input_gives_float32_output():
    atoms = molecule("H2O")
    positions = as_tensor(atoms.positions, dtype=torch.float32)
    overlap = overlap_matrix(atoms.numbers, positions)
    dipoles = dipole_integrals(atoms.numbers, positions, origin=[0.0, 0.0, 1.0])
    assert overlap.dtype == dipoles.dtype == torch.float32
    assert torch.allclose(overlap.double(), overlap_matrix(atoms.numbers, positions.double()), atol=1e-6)
    assert lowdin_orthogonalizer(overlap).dtype == torch.float32


@pytest.mark.parametrize("label, numbers, positions", GEOMETRIES, ids=GEOMETRY_IDS)
def test_lowdin_orthogonalizer_makes_the_overlap_the_identity(label, numbers, positions):
    overlap = overlap_matrix(numbers, as_tensor(positions))
    orthogonalizer = lowdin_orthogonalizer(overlap)
    identity = torch.eye(len(overlap), dtype=torch.float64)
    assert torch.allclose(orthogonalizer, orthogonalizer.T, rtol=0, atol=1e-12)
    assert torch.allclose(orthogonalizer @ overlap @ orthogonalizer, identity, rtol=0, atol=1e-12)
    assert torch.allclose(lowdin_transform(overlap, overlap), identity, rtol=0, atol=1e-12)


def test_lowdin_transform_solves_the_generalised_eigenproblem_and_inverts():
    scipy_linalg = pytest.importorskip("scipy.linalg")
    atoms = molecule("CH3CHO")
    overlap = overlap_matrix(atoms.numbers, as_tensor(atoms.positions))
    generator = torch.Generator().manual_seed(4)
    hamiltonian = torch.randn(overlap.shape, dtype=torch.float64, generator=generator)
    hamiltonian = hamiltonian + hamiltonian.T
    orthogonal = lowdin_transform(hamiltonian, overlap)
    reference = scipy_linalg.eigh(hamiltonian.numpy(), overlap.numpy(), eigvals_only=True)
    np.testing.assert_allclose(torch.linalg.eigvalsh(orthogonal).numpy(), reference, rtol=0, atol=1e-10)
    assert torch.allclose(lowdin_back_transform(orthogonal, overlap), hamiltonian, rtol=0, atol=1e-11)
    batched = lowdin_transform(torch.stack([hamiltonian, 2 * hamiltonian]), overlap)
    assert torch.allclose(batched[1], 2 * orthogonal, rtol=0, atol=1e-12)


def test_overlapping_atoms_give_a_clear_error():
    numbers = np.array([6, 1, 1])
    positions = as_tensor([[0.0, 0.0, 0.0], [1.0, 0.0, 0.0], [1.0, 0.0, 0.0]])
    overlap = overlap_matrix(numbers, positions)
    with pytest.raises(ValueError, match=r"not positive definite: smallest eigenvalue .*on top of each other"):
        lowdin_orthogonalizer(overlap)
    with pytest.raises(ValueError, match="not positive definite"):
        lowdin_transform(torch.eye(7, dtype=torch.float64), overlap)


# ------------------------------------------------------------------ input validation


def test_unsupported_element_is_named():
    positions = as_tensor([[0.0, 0.0, 0.0], [2.2, 0.0, 0.0]])
    with pytest.raises(ValueError, match=r"unsupported element\(s\) Si"):
        overlap_matrix([14, 1], positions)
    with pytest.raises(ValueError, match=r"unsupported element\(s\) Si"):
        dipole_integrals([1, 14], positions)


@pytest.mark.parametrize(
    "numbers, positions, error, message",
    [
        ([1, 1], np.zeros((2, 3)), TypeError, "positions must be a torch.Tensor"),
        ([1, 1], torch.zeros((2, 3), dtype=torch.int64), TypeError, "positions must have a floating-point dtype"),
        ([1, 1], torch.zeros((3, 3), dtype=torch.float64), ValueError, r"positions must have shape \(n_atoms, 3\)"),
        ([1, 1], torch.zeros((2, 2), dtype=torch.float64), ValueError, r"positions must have shape \(n_atoms, 3\)"),
        ([1, 1], torch.tensor([[0.0, 0, 0], [float("nan"), 0, 0]]), ValueError, "positions must be finite"),
        ([[1, 1]], torch.zeros((2, 3)), ValueError, "numbers must be a 1-D sequence"),
        ([1.0, 1.0], torch.zeros((2, 3)), TypeError, "numbers must hold integer atomic numbers"),
    ],
)
def test_invalid_geometry_is_rejected_naming_the_argument(numbers, positions, error, message):
    with pytest.raises(error, match=message):
        overlap_matrix(numbers, positions)
    with pytest.raises(error, match=message):
        dipole_integrals(numbers, positions)


def test_invalid_origin_and_overlap_are_rejected_naming_the_argument():
    positions = as_tensor([[0.0, 0.0, 0.0], [0.74, 0.0, 0.0]])
    with pytest.raises(ValueError, match=r"origin must have shape \(3,\)"):
        dipole_integrals([1, 1], positions, origin=[0.0, 0.0])
    with pytest.raises(ValueError, match="origin must be finite"):
        dipole_integrals([1, 1], positions, origin=[0.0, float("inf"), 0.0])
    with pytest.raises(TypeError, match="overlap must be a torch.Tensor"):
        lowdin_orthogonalizer(np.eye(2))
    with pytest.raises(ValueError, match=r"overlap must have shape \(\.\.\., n_ao, n_ao\)"):
        lowdin_orthogonalizer(torch.ones(2, 3, dtype=torch.float64))
    with pytest.raises(ValueError, match="overlap must be symmetric"):
        lowdin_orthogonalizer(torch.tensor([[1.0, 0.5], [0.1, 1.0]], dtype=torch.float64))
    overlap = overlap_matrix([1, 1], positions)
    with pytest.raises(ValueError, match=r"matrix must have shape \(\.\.\., 2, 2\)"):
        lowdin_transform(torch.eye(3, dtype=torch.float64), overlap)


def test_empty_molecule_gives_empty_matrices():
    assert overlap_matrix([], torch.zeros((0, 3), dtype=torch.float64)).shape == (0, 0)
    assert dipole_integrals([], torch.zeros((0, 3), dtype=torch.float64)).shape == (3, 0, 0)
