r"""Real spherical harmonics, solid harmonics and real Wigner-D matrices.

Conventions (used by every module of :mod:`ase_mlham.descriptors`):

* **Normalisation**: orthonormal on the unit sphere,
  :math:`\int Y_{lm} Y_{l'm'} d\Omega = \delta_{ll'}\delta_{mm'}`, so
  :math:`Y_{00} = 1/\sqrt{4\pi}`.
* **Component order**: ``m = -l .. l``; the components of all ``l <= l_max`` are
  stacked as ``index = l**2 + l + m``. For ``l = 1`` this is (y, z, x), each with
  the positive prefactor :math:`\sqrt{3/4\pi}` (no Condon-Shortley phase):
  ``Y_{1,-1} = sqrt(3/4pi) y/r``. :data:`ase_mlham.basis.P_CARTESIAN_TO_SPHERICAL`
  maps PySCF's (x, y, z) p functions to this order.
* :math:`m > 0` uses :math:`\cos(m\phi)`, :math:`m < 0` uses :math:`\sin(|m|\phi)`.
* **Parity**: :math:`Y_{lm}(-\hat r) = (-1)^l Y_{lm}(\hat r)`.
* **Solid harmonics** :math:`S_{lm}(\mathbf r) = r^l Y_{lm}(\hat r)` are
  homogeneous harmonic polynomials, smooth everywhere (also at r = 0).
* **Wigner-D**: no Euler angles are involved. For an orthogonal 3x3 matrix
  ``R`` acting on column vectors (``r -> R r``), :func:`wigner_d_real` returns the
  real ``(2l+1, 2l+1)`` matrix with :math:`Y_l(R\hat r) = D^l(R)\,Y_l(\hat r)`;
  an improper ``R`` (det -1) includes the parity factor :math:`(-1)^l`.
"""

from __future__ import annotations

import math

import numpy as np
import torch

__all__ = ["solid_harmonics", "spherical_harmonics", "wigner_d_real", "lm_index"]


def lm_index(l: int, m: int) -> int:
    """Position of component (l, m) in the stacked ``(l_max + 1)**2`` axis."""
    return l * l + l + m


def solid_harmonics(vectors: torch.Tensor, max_angular: int) -> torch.Tensor:
    r"""Real solid harmonics :math:`r^l Y_{lm}(\hat r)` for ``l <= max_angular``.

    Parameters
    ----------
    vectors
        Cartesian vectors, shape ``(..., 3)`` (any length unit u).
    max_angular
        Largest angular momentum l.

    Returns
    -------
    torch.Tensor
        Shape ``(..., (max_angular + 1)**2)`` in units u**l, components ordered
        ``l**2 + l + m``. Polynomial in the coordinates, hence differentiable everywhere.
    """
    x, y, z = vectors[..., 0], vectors[..., 1], vectors[..., 2]
    r2 = x * x + y * y + z * z
    # cos/sin parts (x + i y)^m = r^m sin^m(theta) e^{i m phi}
    cos_parts = [torch.ones_like(x)]
    sin_parts = [torch.zeros_like(x)]
    for m in range(1, max_angular + 1):
        c, s = cos_parts[-1], sin_parts[-1]
        cos_parts.append(c * x - s * y)
        sin_parts.append(s * x + c * y)
    # q[l][m] = r^{l-m} d^m P_l / dx^m (z / r): polynomials in z and r^2
    q: list[list[torch.Tensor | None]] = [[None] * (max_angular + 1) for _ in range(max_angular + 1)]
    for m in range(max_angular + 1):
        double_factorial = float(np.prod(np.arange(2 * m - 1, 0, -2))) if m > 0 else 1.0
        q[m][m] = torch.full_like(x, double_factorial)
        if m + 1 <= max_angular:
            q[m + 1][m] = (2 * m + 1) * z * q[m][m]
        for l in range(m + 2, max_angular + 1):
            q[l][m] = ((2 * l - 1) * z * q[l - 1][m] - (l + m - 1) * r2 * q[l - 2][m]) / (l - m)
    components = []
    for l in range(max_angular + 1):
        for m in range(-l, l + 1):
            a = abs(m)
            norm = math.sqrt((2 * l + 1) / (4 * math.pi) * math.factorial(l - a) / math.factorial(l + a))
            if m == 0:
                components.append(norm * q[l][0])
            elif m > 0:
                components.append(math.sqrt(2.0) * norm * q[l][a] * cos_parts[a])
            else:
                components.append(math.sqrt(2.0) * norm * q[l][a] * sin_parts[a])
    return torch.stack(components, dim=-1)


def spherical_harmonics(vectors: torch.Tensor, max_angular: int) -> torch.Tensor:
    r"""Real spherical harmonics :math:`Y_{lm}(\hat r)` of the directions of ``vectors``.

    Parameters
    ----------
    vectors
        Non-zero Cartesian vectors, shape ``(..., 3)``.
    max_angular
        Largest angular momentum l.

    Returns
    -------
    torch.Tensor
        Dimensionless, shape ``(..., (max_angular + 1)**2)``.
    """
    norm = torch.linalg.norm(vectors, dim=-1, keepdim=True)
    return solid_harmonics(vectors / norm, max_angular)


def _sphere_points(count: int) -> np.ndarray:
    """Deterministic, well-spread unit vectors (Fibonacci lattice), shape ``(count, 3)``."""
    index = np.arange(count) + 0.5
    z = 1.0 - 2.0 * index / count
    phi = math.pi * (1.0 + math.sqrt(5.0)) * index
    radius = np.sqrt(1.0 - z * z)
    return np.stack([radius * np.cos(phi), radius * np.sin(phi), z], axis=1)


def wigner_d_real(l: int, rotation_matrix) -> torch.Tensor:
    r"""Real Wigner-D matrix of degree ``l`` for an orthogonal 3x3 matrix.

    Defined by :math:`Y_l(R\hat r) = D^l(R)\,Y_l(\hat r)` with ``R`` acting on
    column vectors, in the component order of :func:`spherical_harmonics`; computed
    by an exact least-squares fit on ``4 (2l+1)**2`` fixed points of the sphere.
    An improper ``R`` yields :math:`(-1)^l D^l(-R)`. A feature block of degree
    lambda and parity sigma transforms as ``f(R X) = sigma^{[det R < 0]} D^lambda(R) f(X)``.

    Parameters
    ----------
    l
        Degree, ``l >= 0``.
    rotation_matrix
        Orthogonal matrix, array-like or tensor of shape ``(3, 3)``.

    Returns
    -------
    torch.Tensor
        float64 (or the tensor's floating dtype), shape ``(2l+1, 2l+1)``.
    """
    if not isinstance(l, int) or l < 0:
        raise ValueError(f"l must be a non-negative integer, got {l!r}")
    dtype = rotation_matrix.dtype if isinstance(rotation_matrix, torch.Tensor) else torch.float64
    matrix = torch.as_tensor(rotation_matrix, dtype=torch.float64).detach().cpu()
    if matrix.shape != (3, 3):
        raise ValueError(f"rotation_matrix must have shape (3, 3), got {tuple(matrix.shape)}")
    if not torch.allclose(matrix @ matrix.T, torch.eye(3, dtype=torch.float64), atol=1e-8):
        raise ValueError("rotation_matrix must be orthogonal (R R^T = 1)")
    points = torch.as_tensor(_sphere_points(4 * (2 * l + 1) ** 2 + 8))
    start, stop = l * l, (l + 1) * (l + 1)
    before = solid_harmonics(points, l)[:, start:stop]
    after = solid_harmonics(points @ matrix.T, l)[:, start:stop]
    # after = before @ D^T  ->  D^T = lstsq(before, after)
    solution = torch.linalg.lstsq(before, after, driver="gelsd").solution
    return solution.T.contiguous().to(dtype if dtype.is_floating_point else torch.float64)
