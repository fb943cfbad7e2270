"""Real spherical harmonics, Wigner-D and Clebsch-Gordan: conventions and symmetry."""

import math

import numpy as np
import pytest
import torch

from ase_mlham.basis import P_CARTESIAN_TO_SPHERICAL
from ase_mlham.descriptors import clebsch_gordan_real, solid_harmonics, spherical_harmonics, wigner_d_real
from ase_mlham.descriptors.testing import random_rotation

DTYPES = [torch.float64, torch.float32]


def _sphere_quadrature(n_theta: int = 30, n_phi: int = 60):
    x, w = np.polynomial.legendre.leggauss(n_theta)
    phi = np.arange(n_phi) * 2 * np.pi / n_phi
    cos_t, p = np.meshgrid(x, phi, indexing="ij")
    sin_t = np.sqrt(1 - cos_t**2)
    points = np.stack([sin_t * np.cos(p), sin_t * np.sin(p), cos_t], -1).reshape(-1, 3)
    weights = (w[:, None] * np.full(n_phi, 2 * np.pi / n_phi)[None, :]).reshape(-1)
    return torch.tensor(points), torch.tensor(weights)


def test_orthonormal_on_the_sphere():
    points, weights = _sphere_quadrature()
    y = spherical_harmonics(points, 6)
    gram = (y * weights[:, None]).T @ y
    assert torch.allclose(gram, torch.eye(49, dtype=torch.float64), atol=1e-12)


def test_l1_order_is_y_z_x_and_matches_basis_permutation():
    vectors = torch.randn(7, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    unit = vectors / vectors.norm(dim=1, keepdim=True)
    y1 = spherical_harmonics(vectors, 1)[:, 1:4]
    assert torch.allclose(y1, math.sqrt(3 / (4 * math.pi)) * unit[:, [1, 2, 0]], atol=1e-14)
    assert list(P_CARTESIAN_TO_SPHERICAL) == [1, 2, 0]
    assert torch.allclose(y1, math.sqrt(3 / (4 * math.pi)) * unit[:, list(P_CARTESIAN_TO_SPHERICAL)], atol=1e-14)


def test_parity_and_homogeneity():
    vectors = torch.randn(5, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    l_of = torch.tensor([l for l in range(6) for _ in range(2 * l + 1)], dtype=torch.float64)
    y = spherical_harmonics(vectors, 5)
    assert torch.allclose(spherical_harmonics(-vectors, 5), (-1) ** l_of * y, atol=1e-13)
    s = solid_harmonics(vectors, 5)
    assert torch.allclose(s, vectors.norm(dim=1, keepdim=True) ** l_of * y, atol=1e-12)
    assert torch.allclose(solid_harmonics(2.5 * vectors, 5), 2.5**l_of * s, rtol=1e-12)


@pytest.mark.parametrize("l", range(7))
@pytest.mark.parametrize("improper", [False, True])
def test_wigner_d_defines_the_rotation(l, improper):
    rotation = random_rotation(l, improper)
    vectors = torch.randn(11, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(2))
    d = wigner_d_real(l, rotation)
    block = slice(l * l, (l + 1) ** 2)
    rotated = spherical_harmonics(vectors @ rotation.T, l)[:, block]
    assert torch.allclose(rotated, spherical_harmonics(vectors, l)[:, block] @ d.T, atol=1e-13)
    assert torch.allclose(d @ d.T, torch.eye(2 * l + 1, dtype=torch.float64), atol=1e-13)


def test_wigner_d_is_a_representation():
    r1, r2 = random_rotation(3), random_rotation(4)
    for l in range(5):
        assert torch.allclose(wigner_d_real(l, r1 @ r2), wigner_d_real(l, r1) @ wigner_d_real(l, r2), atol=1e-13)


def test_wigner_d_rejects_bad_input():
    with pytest.raises(ValueError, match="rotation_matrix must have shape"):
        wigner_d_real(1, torch.eye(2))
    with pytest.raises(ValueError, match="must be orthogonal"):
        wigner_d_real(1, 2 * torch.eye(3))
    with pytest.raises(ValueError, match="l must be a non-negative integer"):
        wigner_d_real(-1, torch.eye(3))


@pytest.mark.parametrize("l1,l2", [(0, 0), (1, 1), (1, 2), (2, 2), (3, 4), (4, 4), (2, 5)])
def test_clebsch_gordan_couples_equivariantly(l1, l2):
    rotation = random_rotation(7)
    generator = torch.Generator().manual_seed(3)
    a = torch.randn(2 * l1 + 1, dtype=torch.float64, generator=generator)
    b = torch.randn(2 * l2 + 1, dtype=torch.float64, generator=generator)
    for lam in range(abs(l1 - l2), l1 + l2 + 1):
        cg = clebsch_gordan_real(l1, l2, lam)
        coupled = torch.einsum("i,j,ijk->k", a, b, cg)
        rotated = torch.einsum("i,j,ijk->k", wigner_d_real(l1, rotation) @ a, wigner_d_real(l2, rotation) @ b, cg)
        assert torch.allclose(rotated, wigner_d_real(lam, rotation) @ coupled, atol=1e-13)
        gram = torch.einsum("ijk,ijm->km", cg, cg)
        assert torch.allclose(gram, torch.eye(2 * lam + 1, dtype=torch.float64), atol=1e-13)


def test_clebsch_gordan_known_values_and_swap_symmetry():
    # coupling two l=1 vectors to lambda=0 is the normalised dot product
    assert torch.allclose(clebsch_gordan_real(1, 1, 0)[..., 0], torch.eye(3, dtype=torch.float64) / math.sqrt(3))
    for l, lam in [(1, 1), (2, 1), (2, 2), (3, 3)]:
        cg = clebsch_gordan_real(l, l, lam)
        assert torch.allclose(cg.transpose(0, 1), (-1) ** lam * cg, atol=1e-14)
    # (1, 1) -> 1 is the cross product up to a constant
    a, b = torch.tensor([0.3, -1.2, 0.5], dtype=torch.float64), torch.tensor([1.1, 0.4, -0.7], dtype=torch.float64)
    perm = [1, 2, 0]  # (x, y, z) -> (y, z, x)
    coupled = torch.einsum("i,j,ijk->k", a[perm], b[perm], clebsch_gordan_real(1, 1, 1))
    cross = torch.linalg.cross(a, b)[perm]
    assert torch.allclose(coupled / cross, (coupled / cross)[0].expand(3), atol=1e-13)


@pytest.mark.parametrize("dtype", DTYPES)
def test_clebsch_gordan_copies_in_caller_dtype(dtype):
    first = clebsch_gordan_real(2, 2, 2, dtype=dtype)
    assert first.dtype == dtype
    first.zero_()
    assert clebsch_gordan_real(2, 2, 2, dtype=dtype).abs().max() > 0


def test_clebsch_gordan_rejects_bad_triangle():
    with pytest.raises(ValueError, match="lam must satisfy"):
        clebsch_gordan_real(1, 1, 3)
    with pytest.raises(ValueError, match="l1 must be a non-negative integer"):
        clebsch_gordan_real(-1, 1, 1)
