r"""Real Clebsch-Gordan coefficients in the convention of :mod:`.spherical_harmonics`.

``clebsch_gordan_real(l1, l2, lam)`` returns the tensor ``C`` of shape
``(2 l1 + 1, 2 l2 + 1, 2 lam + 1)`` such that for any two equivariants
``a`` (degree l1) and ``b`` (degree l2)

.. math::

    t_\mu = \sum_{m_1 m_2} C_{m_1 m_2 \mu}\, a_{m_1} b_{m_2}

transforms with :func:`~.spherical_harmonics.wigner_d_real` of degree lambda.
``C`` is real, orthonormal (:math:`\sum_{m_1 m_2} C_{m_1 m_2\mu} C_{m_1 m_2\nu} = \delta_{\mu\nu}`,
the same normalisation as the complex Condon-Shortley coefficients) and fixed
up to one global sign, chosen so that its first entry (row-major) of magnitude
above 1e-8 is positive. It is computed once in float64 from Racah's formula for the
complex (Condon-Shortley) coefficients and the unitary complex-to-real change
of basis, cached, and handed out as a fresh copy in the requested dtype and device.
"""

from __future__ import annotations

import functools
import math

import numpy as np
import torch

__all__ = ["clebsch_gordan_real"]

def _complex_clebsch_gordan(l1: int, l2: int, lam: int) -> np.ndarray:
    """Condon-Shortley <l1 m1 l2 m2 | lam M> by Racah's formula, shape ``(2lam+1, 2l1+1, 2l2+1)``."""
    f = math.factorial
    table = np.zeros((2 * lam + 1, 2 * l1 + 1, 2 * l2 + 1))
    prefactor = (2 * lam + 1) * f(lam + l1 - l2) * f(lam - l1 + l2) * f(l1 + l2 - lam) / f(l1 + l2 + lam + 1)
    for m1 in range(-l1, l1 + 1):
        for m2 in range(-l2, l2 + 1):
            m = m1 + m2
            if abs(m) > lam:
                continue
            total = 0.0
            for k in range(0, l1 + l2 - lam + 1):
                denominators = (k, l1 + l2 - lam - k, l1 - m1 - k, l2 + m2 - k, lam - l2 + m1 + k, lam - l1 - m2 + k)
                if min(denominators) < 0:
                    continue
                total += (-1) ** k / math.prod(f(d) for d in denominators)
            norm = f(lam + m) * f(lam - m) * f(l1 - m1) * f(l1 + m1) * f(l2 - m2) * f(l2 + m2)
            table[m + lam, m1 + l1, m2 + l2] = math.sqrt(prefactor * norm) * total
    return table


def _complex_to_real(l: int) -> np.ndarray:
    """Unitary ``U`` with ``Y_real = U Y_complex`` (Condon-Shortley complex, module's real convention)."""
    u = np.zeros((2 * l + 1, 2 * l + 1), dtype=np.complex128)
    u[l, l] = 1.0
    for m in range(1, l + 1):
        u[l + m, l + m] = (-1) ** m / math.sqrt(2.0)
        u[l + m, l - m] = 1.0 / math.sqrt(2.0)
        u[l - m, l - m] = 1j / math.sqrt(2.0)
        u[l - m, l + m] = -1j * (-1) ** m / math.sqrt(2.0)
    return u


@functools.lru_cache(maxsize=None)
def _clebsch_gordan_numpy(l1: int, l2: int, lam: int) -> np.ndarray:
    coupled = np.einsum(
        "uM,Mmn,am,bn->abu",
        _complex_to_real(lam),
        _complex_clebsch_gordan(l1, l2, lam),
        _complex_to_real(l1).conj(),
        _complex_to_real(l2).conj(),
    )
    # real for even l1 + l2 + lam, purely imaginary for odd: drop the global phase
    table = coupled.real if np.abs(coupled.real).max() >= np.abs(coupled.imag).max() else coupled.imag
    table = table * math.sqrt(2 * lam + 1) / np.linalg.norm(table)
    flat = table.reshape(-1)
    table = table * np.sign(flat[np.flatnonzero(np.abs(flat) > 1e-8)[0]])
    table[np.abs(table) < 1e-15] = 0.0
    table = np.ascontiguousarray(table)
    table.setflags(write=False)
    return table


def clebsch_gordan_real(
    l1: int, l2: int, lam: int, dtype: torch.dtype = torch.float64, device: torch.device | str | None = None
) -> torch.Tensor:
    """Real Clebsch-Gordan tensor coupling degrees ``l1`` and ``l2`` to ``lam``.

    Parameters
    ----------
    l1, l2, lam
        Non-negative integers with ``|l1 - l2| <= lam <= l1 + l2``.
    dtype, device
        Of the returned copy (built and cached in float64).

    Returns
    -------
    torch.Tensor
        Shape ``(2 l1 + 1, 2 l2 + 1, 2 lam + 1)``; see the module docstring.
    """
    for name, value in (("l1", l1), ("l2", l2), ("lam", lam)):
        if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 0:
            raise ValueError(f"{name} must be a non-negative integer, got {value!r}")
    if not abs(l1 - l2) <= lam <= l1 + l2:
        raise ValueError(f"lam must satisfy |l1 - l2| <= lam <= l1 + l2, got l1={l1}, l2={l2}, lam={lam}")
    table = _clebsch_gordan_numpy(int(l1), int(l2), int(lam))
    return torch.tensor(table, dtype=dtype, device=device)
