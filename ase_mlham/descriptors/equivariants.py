r"""Sets of equivariants and their Clebsch-Gordan tensor products.

An :class:`EquivariantSet` holds blocks keyed by ``(l, sigma)``: tensors of shape
``(n_samples, 2l + 1, n_properties)`` whose component axis transforms with
:func:`~.spherical_harmonics.wigner_d_real` of degree l under a rotation and
which change by the factor ``sigma * (-1)**l`` under inversion. Density
coefficients have ``sigma = +1``; a product of degrees l1, l2 coupled to lambda
has

.. math:: \sigma = \sigma_1 \sigma_2 (-1)^{l_1 + l_2 + \lambda},

so ``sigma = +1`` marks proper tensors (polar, like :math:`Y_\lambda`) and
``sigma = -1`` pseudo-tensors. The nu = 2 lambda-SOAP equivariants are the
product of the density with itself,

.. math:: \langle q_1 l_1; q_2 l_2 | \rho_i^{\otimes 2}; \sigma; \lambda\mu\rangle
          = \sum_{m_1 m_2} C^{\lambda\mu}_{l_1 m_1 l_2 m_2} c^{q_1}_{l_1 m_1}(i)\, c^{q_2}_{l_2 m_2}(i),

keeping each unordered pair of channels once (see :func:`tensor_product`).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
import torch

from .clebsch_gordan import clebsch_gordan_real

__all__ = ["EquivariantSet", "SeparableSet", "tensor_product"]

Key = tuple[int, int]


@dataclass(frozen=True)
class EquivariantSet:
    """Blocks ``(l, sigma) -> (n_samples, 2l+1, n_properties)`` with property labels.

    ``properties[key]`` is an ``int64`` array ``(n_properties, len(names))``.
    """

    blocks: dict[Key, torch.Tensor]
    properties: dict[Key, np.ndarray]
    names: tuple[str, ...]

    def select_samples(self, index: torch.Tensor) -> "EquivariantSet":
        """The same set restricted to (or repeated over) the samples ``index``."""
        return EquivariantSet(
            {key: block.index_select(0, index) for key, block in self.blocks.items()}, self.properties, self.names
        )

    def renamed(self, suffix: str) -> "EquivariantSet":
        """A copy whose property names carry ``suffix``."""
        return EquivariantSet(self.blocks, self.properties, tuple(name + suffix for name in self.names))

    def with_constant(self) -> "EquivariantSet":
        """Prepend a constant channel (the nu = 0 'density' 1) to the ``(0, +1)`` block.

        Its property label is ``-1`` in every column.
        """
        blocks, properties = dict(self.blocks), dict(self.properties)
        block = blocks[(0, 1)]
        ones = torch.ones(block.shape[0], 1, 1, dtype=block.dtype, device=block.device)
        blocks[(0, 1)] = torch.cat([ones, block], dim=2)
        properties[(0, 1)] = np.concatenate(
            [np.full((1, len(self.names)), -1, dtype=np.int64), properties[(0, 1)]], axis=0
        )
        return EquivariantSet(blocks, properties, self.names)


@dataclass(frozen=True)
class SeparableSet:
    """A set whose blocks are outer products ``angular[key][s, m] * radial[key][s, b]``.

    The expansion of a single Gaussian (the pair density g_ij) has this form;
    :func:`tensor_product` then couples the angular part only and multiplies by
    the radial part, which saves a factor ``n_radial`` of work. ``blocks``
    materialises the ordinary ``(n_samples, 2l+1, n_radial)`` blocks.
    """

    angular: dict[Key, torch.Tensor]  # (n_samples, 2l+1)
    radial: dict[Key, torch.Tensor]  # (n_samples, n_radial)
    properties: dict[Key, np.ndarray]
    names: tuple[str, ...]

    @property
    def blocks(self) -> dict[Key, torch.Tensor]:
        return {key: self.angular[key][:, :, None] * self.radial[key][:, None, :] for key in self.angular}


def _couple(
    left: torch.Tensor,
    right: torch.Tensor,
    cg: torch.Tensor,
    left_index: torch.Tensor | None = None,
    right_index: torch.Tensor | None = None,
) -> torch.Tensor:
    """Couple ``left[left_index]`` ``(S, 2l1+1, A)`` and ``right[right_index]`` ``(S, 2l2+1, B)``.

    ``cg`` has shape ``(2l1+1, 2l2+1, K)``; returns ``(S, K, A, B)``. The
    Clebsch-Gordan table is contracted with an operand *before* it is gathered
    by its index (e.g. an atom's density shared by all its pairs).
    """
    n_i, n_j, n_k = cg.shape
    if right_index is not None and left_index is None:
        n_right, _, n_b = right.shape
        # sum_j cg[i, j, k] right[s, j, b] -> (S_r, i, K*B), gathered, then sum_i left[s, i, a] (...)
        partial = torch.matmul(right.transpose(1, 2), cg.permute(1, 0, 2).reshape(n_j, n_i * n_k))
        partial = partial.reshape(n_right, n_b, n_i, n_k).permute(0, 2, 3, 1).reshape(n_right, n_i, n_k * n_b)
        partial = partial.index_select(0, right_index)
        coupled = torch.bmm(left.transpose(1, 2), partial)  # (S, A, K*B)
        return coupled.reshape(left.shape[0], left.shape[2], n_k, n_b).transpose(1, 2)
    n_left, _, n_a = left.shape
    # sum_i left[s, i, a] cg[i, j, k] -> (S_l, K*A, j): one matrix product, then gathered
    partial = torch.matmul(left.transpose(1, 2), cg.reshape(n_i, n_j * n_k))
    partial = partial.reshape(n_left, n_a, n_j, n_k).permute(0, 3, 1, 2).reshape(n_left, n_k * n_a, n_j)
    if left_index is not None:
        partial = partial.index_select(0, left_index)
    if right_index is not None:
        right = right.index_select(0, right_index)
    coupled = torch.bmm(partial, right)  # (S, K*A, B)
    return coupled.reshape(partial.shape[0], n_k, n_a, right.shape[2])


@functools.lru_cache(maxsize=None)
def _stacked_numpy(l1: int, l2: int, first_lambda: int, last_lambda: int) -> np.ndarray:
    tables = [clebsch_gordan_real(l1, l2, lam).numpy() for lam in range(first_lambda, last_lambda + 1)]
    return np.concatenate(tables, axis=2)


def _stacked_clebsch_gordan(l1: int, l2: int, lambdas: range, dtype: torch.dtype, device) -> torch.Tensor:
    """Tables of all ``lambdas`` concatenated on the last axis: ``(2l1+1, 2l2+1, sum(2 lam + 1))``."""
    return torch.as_tensor(_stacked_numpy(l1, l2, lambdas[0], lambdas[-1]), device=device).to(dtype)


@functools.lru_cache(maxsize=None)
def _channel_pairs(n_a: int, n_b: int, offset: int | None) -> tuple[np.ndarray, np.ndarray]:
    """Channel pairs kept: all ``(a, b)`` (``offset=None``) or the upper triangle from ``offset``."""
    if offset is None:
        return np.divmod(np.arange(n_a * n_b), n_b)
    return np.triu_indices(n_a, k=offset)


def tensor_product(
    left: EquivariantSet,
    right: EquivariantSet | SeparableSet,
    max_lambda: int,
    labels: tuple[str, str] = ("1", "2"),
    symmetric: bool = False,
    left_index: torch.Tensor | None = None,
    right_index: torch.Tensor | None = None,
    concatenate: bool = True,
    with_properties: bool = True,
) -> EquivariantSet:
    """Clebsch-Gordan product of two sets over the same samples, lambda <= ``max_lambda``.

    Parameters
    ----------
    left, right
        Sets with the same samples, or sets gathered by ``left_index`` /
        ``right_index`` onto common samples (e.g. atoms onto pairs). ``right``
        may be a :class:`SeparableSet` (then without ``right_index``).
    max_lambda
        Largest coupled degree kept.
    labels
        Suffixes naming the degree and parity columns of each operand:
        the output property names are ``(l_<a>, sigma_<a>, *left.names, l_<b>, sigma_<b>, *right.names)``.
    symmetric
        ``left`` and ``right`` are the same set: keep each unordered pair of
        blocks once and, within a block product with itself, each unordered pair
        of channels once (``q1 <= q2`` when the product is symmetric under the
        swap, ``q1 < q2`` when antisymmetric; the swap sign is ``(-1)**(2l - lambda)``).
    left_index, right_index
        Optional ``int64`` gather indices ``(n_samples,)`` into the samples of each operand.
    concatenate
        If False, each block is left as a list of pieces along the property
        axis (concatenated once, later, by the caller), saving a copy.
    with_properties
        If False, skip building the property labels (``properties`` is empty):
        for callers that reuse the labels of an earlier, identical product.

    Returns
    -------
    EquivariantSet
        Blocks for every ``(lambda, sigma)`` produced.
    """
    values: dict[Key, list[torch.Tensor]] = {}
    rows: dict[Key, list[np.ndarray]] = {}
    separable = isinstance(right, SeparableSet)
    if separable and right_index is not None:
        raise ValueError("right_index is not supported with a SeparableSet right operand")
    right_blocks = {key: value[:, :, None] for key, value in right.angular.items()} if separable else right.blocks
    for (l1, s1), a in left.blocks.items():
        for (l2, s2), b in right_blocks.items():
            if symmetric and (l1, s1) > (l2, s2):
                continue
            same_block = symmetric and (l1, s1) == (l2, s2)
            lambdas = range(abs(l1 - l2), min(l1 + l2, max_lambda) + 1)
            if len(lambdas) == 0:
                continue
            cg = _stacked_clebsch_gordan(l1, l2, lambdas, a.dtype, a.device)
            all_coupled = _couple(a, b, cg, left_index, right_index)
            if separable:
                all_coupled = all_coupled * right.radial[(l2, s2)][:, None, None, :]
            n_a, n_b = a.shape[2], all_coupled.shape[3]
            n_samples = all_coupled.shape[0]
            pieces = torch.split(all_coupled, [2 * lam + 1 for lam in lambdas], dim=1)
            for lam, coupled in zip(lambdas, pieces):
                offset = 0 if (2 * l1 - lam) % 2 == 0 else 1
                first, second = _channel_pairs(n_a, n_b, offset if same_block else None)
                if first.size == 0:
                    continue
                if same_block:
                    flat = torch.as_tensor(first * n_b + second, device=a.device)
                    coupled = coupled.reshape(n_samples, 2 * lam + 1, n_a * n_b).index_select(2, flat)
                else:
                    coupled = coupled.reshape(n_samples, 2 * lam + 1, n_a * n_b)
                sigma = s1 * s2 * (-1) ** (l1 + l2 + lam)
                values.setdefault((lam, sigma), []).append(coupled)
                if not with_properties:
                    continue
                label = np.concatenate(
                    [
                        np.tile([[l1, s1]], (first.size, 1)),
                        left.properties[(l1, s1)][first],
                        np.tile([[l2, s2]], (first.size, 1)),
                        right.properties[(l2, s2)][second],
                    ],
                    axis=1,
                ).astype(np.int64)
                rows.setdefault((lam, sigma), []).append(label)
    names = (f"l_{labels[0]}", f"sigma_{labels[0]}", *left.names, f"l_{labels[1]}", f"sigma_{labels[1]}", *right.names)
    keys = sorted(values, key=lambda key: (key[0], -key[1]))
    return EquivariantSet(
        {key: torch.cat(values[key], dim=2) if concatenate else values[key] for key in keys},
        {key: np.concatenate(rows[key], axis=0) for key in keys} if with_properties else {},
        names,
    )
