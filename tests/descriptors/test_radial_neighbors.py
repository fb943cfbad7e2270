"""Radial basis (analytic projections checked by quadrature), smooth cutoff, neighbour lists."""

import math

import numpy as np
import pytest
import torch
from scipy.special import erf, gamma, gammainc

from ase_mlham.descriptors import GaussianTypeBasis, neighbor_list, smooth_cutoff, solid_harmonics
from ase_mlham.descriptors.neighbors import _all_pairs, _cell_list
from ase_mlham.descriptors.radial import _regularised_lower_gamma


def test_smooth_cutoff_value_and_derivative_vanish():
    r = torch.tensor([0.5, 3.5, 3.75, 4.0 - 1e-9, 4.0, 4.5], dtype=torch.float64, requires_grad=True)
    f = smooth_cutoff(r, 4.0, 0.5)
    (grad,) = torch.autograd.grad(f.sum(), r)
    f, grad = f.detach().numpy(), grad.numpy()
    assert f[0] == 1.0 and f[1] == 1.0 and abs(f[2] - 0.5) < 1e-15
    assert f[3] < 1e-15 and f[4] == 0.0 and f[5] == 0.0
    assert abs(grad[3]) < 1e-7 and abs(grad[4]) < 1e-14 and grad[1] == 0.0 and grad[5] == 0.0


def test_regularised_lower_gamma_matches_scipy():
    z = torch.tensor([0.0, 1e-8, 0.3, 2.999, 3.0, 3.001, 12.0, 80.0, 900.0], dtype=torch.float64)
    for l in range(7):
        s = l + 1.5
        safe = np.maximum(z.numpy(), 1e-20)
        reference = np.where(z.numpy() > 0, gammainc(s, safe) * gamma(s) / safe**s, 1.0 / s)
        assert np.allclose(_regularised_lower_gamma(s, z).numpy(), reference, rtol=1e-13, atol=0)


def _ball_quadrature(radius: float, n_radial: int, n_theta: int = 30, n_phi: int = 60):
    x, wx = np.polynomial.legendre.leggauss(n_radial)
    x, wx = (x + 1) * radius / 2, wx * radius / 2
    c, wc = np.polynomial.legendre.leggauss(n_theta)
    phi = np.arange(n_phi) * 2 * np.pi / n_phi
    X, C, P = np.meshgrid(x, c, phi, indexing="ij")
    S = np.sqrt(1 - C**2)
    points = np.stack([X * S * np.cos(P), X * S * np.sin(P), X * C], -1).reshape(-1, 3)
    weights = (wx[:, None, None] * wc[None, :, None] * (2 * np.pi / n_phi) * X**2).reshape(-1)
    return points, weights


def _projections(basis, points, weights, values, max_angular):
    harmonics = solid_harmonics(torch.tensor(points), max_angular).numpy()
    r2 = np.sum(points**2, axis=1)
    primitive = np.einsum("p,pk,pn->nk", weights * values, harmonics, np.exp(-np.outer(r2, basis.exponents)))
    l_of = np.repeat(np.arange(max_angular + 1), 2 * np.arange(max_angular + 1) + 1)
    return np.stack([basis.orthonormalisers[l_of[k]] @ primitive[:, k] for k in range(len(l_of))], axis=1)


@pytest.mark.parametrize("distance", [0.4, 1.7])
def test_density_and_potential_projections_match_quadrature(distance):
    basis = GaussianTypeBasis(max_radial=3, max_angular=2, cutoff=3.0)
    direction = np.array([0.2, -0.5, 0.9]) / np.linalg.norm([0.2, -0.5, 0.9])
    centre = distance * direction
    sigma, sigma_lode = 0.3, 0.8
    points, weights = _ball_quadrature(16.0, 260)
    separation = np.linalg.norm(points - centre, axis=1)
    gaussian = (2 * np.pi * sigma**2) ** -1.5 * np.exp(-(separation**2) / (2 * sigma**2))
    potential = erf(separation / (math.sqrt(2) * sigma_lode)) / separation
    harmonics = solid_harmonics(torch.tensor(centre), 2).numpy()
    l_of = np.repeat(np.arange(3), 2 * np.arange(3) + 1)
    r = torch.tensor([distance], dtype=torch.float64)
    analytic_density = basis.density(r, sigma)[0].numpy()[:, l_of] * harmonics
    analytic_potential = basis.potential(r, sigma_lode)[0].numpy()[:, l_of] * harmonics
    assert np.allclose(_projections(basis, points, weights, gaussian, 2), analytic_density, atol=1e-9)
    assert np.allclose(_projections(basis, points, weights, potential, 2), analytic_potential, atol=1e-5)


def test_basis_is_orthonormal():
    basis = GaussianTypeBasis(max_radial=4, max_angular=3, cutoff=4.0)
    for l in range(4):
        total = basis.exponents[:, None] + basis.exponents[None, :]
        overlap = math.gamma(l + 1.5) / (2 * total ** (l + 1.5))
        o = basis.orthonormalisers[l]
        assert np.allclose(o @ overlap @ o.T, np.eye(4), atol=1e-10)


def test_cell_list_equals_all_pairs():
    positions = np.random.default_rng(0).uniform(0, 18, size=(700, 3))
    for cutoff in (2.5, 4.0):
        cell, direct = _cell_list(positions, cutoff), _all_pairs(positions, cutoff)
        assert np.array_equal(cell[0], direct[0]) and np.array_equal(cell[1], direct[1])
    first, second = neighbor_list(positions, 4.0)
    assert len(first) > 0 and not np.any(first == second)


def test_neighbor_list_validates():
    with pytest.raises(ValueError, match="positions must have shape"):
        neighbor_list(np.zeros((3, 2)), 1.0)
    with pytest.raises(ValueError, match="cutoff must be positive"):
        neighbor_list(np.zeros((3, 3)), 0.0)
