r"""Smooth cutoff and the analytic Gaussian-type radial basis.

The local basis centred on an atom is the set of solid-harmonic Gaussians

.. math::

    \phi_{nlm}(\mathbf x) = S_{lm}(\mathbf x)\, e^{-a_n x^2},\qquad a_n = 1 / (2 s_n^2),

with widths :math:`s_n` spaced geometrically between ``0.1 cutoff`` and
``0.75 cutoff``, orthonormalised per l (symmetric/Löwdin, fixed matrix
:math:`O_l = S_l^{-1/2}`). Projections of Gaussian-smeared atoms are analytic:

* **Density** (normalised Gaussian of width sigma, :math:`b = 1/2\sigma^2`, centred
  at :math:`\mathbf r`; Gaussian product theorem and the mean-value property of
  harmonic polynomials):

  .. math:: \langle\phi_{nlm}|g_{\mathbf r}\rangle = (b/p_n)^{l+3/2}\, e^{-\mu_n r^2} S_{lm}(\mathbf r),
            \quad p_n = a_n + b,\ \mu_n = a_n b / p_n.

* **Coulomb potential** of the same Gaussian (kernel 1/r, width sigma_L,
  :math:`b' = 1/2\sigma_L^2`, :math:`a'_n = a_n b'/(a_n+b')`, :math:`s = l + 3/2`):

  .. math:: \langle\phi_{nlm}|V_{\mathbf r}\rangle = \Big(\frac{b'}{a_n+b'}\Big)^{s}
            \frac{4\pi}{2l+1}\Big[\frac{r^2}{2}\frac{\gamma(s, a'_n r^2)}{(a'_n r^2)^{s}}
            + \frac{e^{-a'_n r^2}}{2a'_n}\Big] S_{lm}(\mathbf r),

  which for large r tends to :math:`\propto Y_{lm}(\hat r)/r^{l+1}` (the multipole far field).

All lengths in Angstrom; the potential of a unit charge is in 1/Angstrom.
"""

from __future__ import annotations

import math

import numpy as np
import torch

__all__ = ["smooth_cutoff", "GaussianTypeBasis"]


def smooth_cutoff(distances: torch.Tensor, cutoff: float, width: float) -> torch.Tensor:
    r"""Cosine switch: 1 below ``cutoff - width``, 0 above ``cutoff``.

    .. math:: f_c(r) = \tfrac12\big[1 + \cos\big(\pi (r - r_c + w)/w\big)\big]

    on :math:`r_c - w < r < r_c`; value and first derivative vanish at :math:`r_c`.

    Parameters
    ----------
    distances
        Any shape, Angstrom.
    cutoff, width
        Angstrom.
    """
    t = ((distances - (cutoff - width)) / width).clamp(0.0, 1.0)
    return 0.5 * (1.0 + torch.cos(math.pi * t))


def _regularised_lower_gamma(order, z: torch.Tensor) -> torch.Tensor:
    r""":math:`\gamma(s, z) / z^s` for half-integer ``s = l + 3/2`` and ``z >= 0``, smooth at z = 0.

    ``order`` is a float or a tensor broadcastable against ``z`` whose entries
    are all of the form ``l + 3/2``. Power series (all terms positive) for
    ``z < 3``; for ``z >= 3`` the exact finite expression
    :math:`\Gamma(s) - \Gamma(s, z)` with the stable upward recurrence
    :math:`\Gamma(t + 1, z) = t\,\Gamma(t, z) + z^t e^{-z}` from
    :math:`\Gamma(1/2, z) = \sqrt\pi\,\mathrm{erfc}(\sqrt z)`.
    """
    threshold = 3.0
    order_tensor = torch.as_tensor(order, dtype=z.dtype, device=z.device)
    shape = torch.broadcast_shapes(z.shape, order_tensor.shape)
    z_full, order_full = z.expand(shape), order_tensor.expand(shape)
    largest = float(order_tensor.max())

    # z >= threshold (most far pairs): Gamma(s) - Gamma(s, z), exact finite recurrence
    large = z_full.clamp(min=threshold)
    root = torch.sqrt(large)
    exponential = torch.exp(-large)
    upper = math.sqrt(math.pi) * torch.special.erfc(root)
    t = 0.5
    power = root  # z^t
    result = torch.zeros_like(large)
    while t < largest - 0.25:
        upper = t * upper + power * exponential
        power = power * large
        t += 1.0
        result = torch.where(order_full == t, (math.gamma(t) - upper) / power, result)

    # z < threshold: power series with positive terms, evaluated on those entries only
    mask = z_full < threshold
    if bool(mask.any()):
        small, small_order = z_full[mask], order_full[mask]
        term = 1.0 / small_order
        series = term
        for k in range(1, 32):  # 3^31 / (1.5 * 2.5 ... 32.5) < 1e-17 of the first term
            term = term * small / (small_order + k)
            series = series + term
        result = result.masked_scatter(mask, series * torch.exp(-small))
    return result


class GaussianTypeBasis:
    """Orthonormalised solid-harmonic Gaussian basis and its analytic projections.

    Parameters
    ----------
    max_radial
        Number of radial functions n.
    max_angular
        Largest l.
    cutoff
        Sets the span of the basis widths, Angstrom.
    """

    def __init__(self, max_radial: int, max_angular: int, cutoff: float) -> None:
        self.max_radial = max_radial
        self.max_angular = max_angular
        if max_radial == 1:
            widths = np.array([0.4 * cutoff])
        else:
            widths = np.geomspace(0.1 * cutoff, 0.75 * cutoff, max_radial)
        self.widths = widths
        self.exponents = 1.0 / (2.0 * widths**2)  # a_n, Angstrom^-2
        orthonormalisers = []
        for l in range(max_angular + 1):
            s = l + 1.5
            total = self.exponents[:, None] + self.exponents[None, :]
            overlap = math.gamma(s) / (2.0 * total**s)
            values, vectors = np.linalg.eigh(overlap)
            orthonormalisers.append(vectors @ np.diag(values**-0.5) @ vectors.T)
        #: ``(max_angular + 1, max_radial, max_radial)``: O_l = S_l^{-1/2}
        self.orthonormalisers = np.stack(orthonormalisers)

    def _orthonormalise(self, primitive: torch.Tensor) -> torch.Tensor:
        """``(..., n, l)`` primitive projections to the orthonormal basis."""
        matrix = torch.as_tensor(self.orthonormalisers, dtype=primitive.dtype, device=primitive.device)
        return torch.einsum("lnk,...kl->...nl", matrix, primitive)

    def density(self, distances: torch.Tensor, gaussian_width: float) -> torch.Tensor:
        """Radial factors of a unit Gaussian at distance r; multiply by ``S_lm(r_vec)``.

        Parameters
        ----------
        distances
            Shape ``(n_pairs,)``, Angstrom.
        gaussian_width
            sigma of the normalised atomic Gaussian, Angstrom.

        Returns
        -------
        torch.Tensor
            Shape ``(n_pairs, max_radial, max_angular + 1)``, Angstrom^-l.
        """
        dtype, device = distances.dtype, distances.device
        a = torch.as_tensor(self.exponents, dtype=dtype, device=device)
        b = 1.0 / (2.0 * gaussian_width**2)
        p = a + b
        mu = a * b / p
        l = torch.arange(self.max_angular + 1, dtype=dtype, device=device)
        scale = (b / p)[:, None] ** (l[None, :] + 1.5)  # (n, l)
        gaussian = torch.exp(-mu[None, :] * distances[:, None] ** 2)  # (pairs, n)
        return self._orthonormalise(gaussian[:, :, None] * scale[None])

    def potential(self, distances: torch.Tensor, gaussian_width: float) -> torch.Tensor:
        """Radial factors of the 1/r potential of a unit Gaussian; multiply by ``S_lm(r_vec)``.

        Returns
        -------
        torch.Tensor
            Shape ``(n_pairs, max_radial, max_angular + 1)``.
        """
        dtype, device = distances.dtype, distances.device
        a = torch.as_tensor(self.exponents, dtype=dtype, device=device)
        b = 1.0 / (2.0 * gaussian_width**2)
        a_eff = a * b / (a + b)  # (n,)
        r2 = distances[:, None, None] ** 2  # (pairs, 1, 1)
        z = a_eff[None, :, None] * r2  # (pairs, n, 1)
        l = torch.arange(self.max_angular + 1, dtype=dtype, device=device)
        order = l + 1.5  # (L,)
        bracket = 0.5 * r2 * _regularised_lower_gamma(order, z) + torch.exp(-z) / (2.0 * a_eff[None, :, None])
        prefactor = (b / (a + b))[:, None] ** order[None, :] * (4.0 * math.pi / (2 * l + 1))[None, :]  # (n, L)
        return self._orthonormalise(prefactor[None] * bracket)
