"""The STO-3G minimal basis: shell tables and atomic-orbital bookkeeping.

AO order per atom is PySCF's ``mol.ao_labels()`` order: shells in the order of
:data:`STO3G_SHELLS`, and within a p shell the Cartesian order (px, py, pz).
Real spherical harmonics in :mod:`ase_mlham.descriptors` order l=1 as
(y, z, x) (m = -1, 0, 1); :data:`P_CARTESIAN_TO_SPHERICAL` is the one place
that permutation is written down.

Exponents in Bohr^-2 and contraction coefficients (for normalised primitives)
are the published STO-3G values, identical to PySCF's ``sto-3g`` file.

Below the tables: analytic, autograd-differentiable one-electron integrals of
the contracted basis (:func:`overlap_matrix`, :func:`dipole_integrals`; input
positions in Angstrom, equal to PySCF's ``int1e_ovlp`` / ``int1e_r``) and the
Loewdin symmetric orthogonalisation (:func:`lowdin_orthogonalizer`,
:func:`lowdin_transform`, :func:`lowdin_back_transform`) that takes matrices
between the AO basis and the orthogonal basis the model's Hamiltonian lives in.
"""

from __future__ import annotations

import functools
from typing import NamedTuple, Sequence

import numpy as np
import torch

from ase_mlham.units import BOHR_TO_ANGSTROM
from ase_mlham.validation import check_numbers_and_positions


class Shell(NamedTuple):
    """A contracted shell: principal label, angular momentum, primitives."""

    n: int
    l: int
    exponents: tuple[float, ...]  # Bohr^-2
    coefficients: tuple[float, ...]  # for normalised primitives


_CORE = (0.15432897, 0.53532814, 0.44463454)
_VALENCE_S = (-0.09996723, 0.39951283, 0.70011547)
_VALENCE_P = (0.15591627, 0.60768372, 0.39195739)


def _first_row(core: tuple[float, ...], valence: tuple[float, ...]) -> tuple[Shell, ...]:
    return (
        Shell(1, 0, core, _CORE),
        Shell(2, 0, valence, _VALENCE_S),
        Shell(2, 1, valence, _VALENCE_P),
    )


#: STO-3G shells per atomic number.
STO3G_SHELLS: dict[int, tuple[Shell, ...]] = {
    1: (Shell(1, 0, (3.42525091, 0.62391373, 0.1688554), _CORE),),
    6: _first_row((71.616837, 13.045096, 3.5305122), (2.9412494, 0.6834831, 0.2222899)),
    7: _first_row((99.106169, 18.052312, 4.8856602), (3.7804559, 0.8784966, 0.2857144)),
    8: _first_row((130.70932, 23.808861, 6.4436083), (5.0331513, 1.1695961, 0.380389)),
}

#: Atomic numbers the minimal basis (and hence every model) supports.
SUPPORTED_NUMBERS: tuple[int, ...] = tuple(sorted(STO3G_SHELLS))

#: Chemical symbols of :data:`SUPPORTED_NUMBERS`.
SUPPORTED_SYMBOLS: tuple[str, ...] = ("H", "C", "N", "O")

#: Index permutation taking a p block in PySCF order (x, y, z) to the real
#: spherical-harmonic order (y, z, x) of m = -1, 0, 1: ``p_sph = p_cart[P_CARTESIAN_TO_SPHERICAL]``.
P_CARTESIAN_TO_SPHERICAL: tuple[int, int, int] = (1, 2, 0)

_P_LABELS = ("px", "py", "pz")


def check_supported(numbers: Sequence[int]) -> None:
    """Raise ``ValueError`` naming every element the minimal basis lacks."""
    from ase.data import chemical_symbols

    unsupported = sorted({int(z) for z in numbers} - set(SUPPORTED_NUMBERS))
    if unsupported:
        names = ", ".join(chemical_symbols[z] if 0 < z < len(chemical_symbols) else str(z)
                          for z in unsupported)
        raise ValueError(
            f"unsupported element(s) {names}: the STO-3G minimal basis of ase-mlham "
            f"covers {', '.join(SUPPORTED_SYMBOLS)} only"
        )


def n_orbitals_per_atom(numbers: Sequence[int]) -> np.ndarray:
    """Number of minimal-basis functions of each atom, shape ``(n_atoms,)``."""
    check_supported(numbers)
    return np.array([sum(2 * s.l + 1 for s in STO3G_SHELLS[int(z)]) for z in numbers], dtype=int)


def n_basis_functions(numbers: Sequence[int]) -> int:
    """N_min: the number of STO-3G functions of a molecule (H 1, C/N/O 5)."""
    return int(n_orbitals_per_atom(numbers).sum())


def ao_slices(numbers: Sequence[int]) -> list[slice]:
    """Slice of each atom's functions in the molecular AO order."""
    offsets = np.concatenate([[0], np.cumsum(n_orbitals_per_atom(numbers))])
    return [slice(int(a), int(b)) for a, b in zip(offsets[:-1], offsets[1:])]


def ao_labels(numbers: Sequence[int]) -> list[str]:
    """AO labels formatted exactly like PySCF's ``mol.ao_labels()`` (e.g. ``'1 C 2px   '``)."""
    from ase.data import chemical_symbols

    check_supported(numbers)
    labels = []
    for atom, z in enumerate(numbers):
        symbol = chemical_symbols[int(z)]
        for shell in STO3G_SHELLS[int(z)]:
            names = ("s",) if shell.l == 0 else _P_LABELS
            labels.extend(f"{atom} {symbol} {shell.n}{name:<5}" for name in names)
    return labels


# ---------------------------------------------------------------------------
# Analytic one-electron integrals: overlap and dipole
# ---------------------------------------------------------------------------
#
# Gaussian product theorem with the Obara-Saika recurrences, written out for
# l <= 1.  For primitives of exponents a (on A) and b (on B): p = a + b,
# mu = a b / p, R = A - B, P = (a A + b B) / p, E = (pi / p)^{3/2} exp(-mu R^2),
#
#     P - A = -(b / p) R,      P - B = (a / p) R,
#     <s|s> = E,   <s|p_j> = (P - B)_j E,   <p_i|s> = (P - A)_i E,
#     <p_i|p_j> = [(P - A)_i (P - B)_j + delta_ij / (2p)] E,
#     <a|x_k - C_k|b> = (P - C)_k <a|b> + [n^a_k <a - 1_k|b> + n^b_k <a|b - 1_k>] / (2p),
#
# with P - C = Q + (a / p) R and Q = B - C.  Every integral of a contracted
# pair is therefore a polynomial in R and Q times a few primitive sums
#
#     W_w(R) = sum_{ab} c_a c_b (pi / p)^{3/2} w(a, b) exp(-mu R^2),
#
# whose constants c_a c_b (pi/p)^{3/2} w(a, b) are tabulated per pair of shells.
# The exponentials are shared by all shells with the same primitives (2s and 2p
# of C, N, O), and the sums are one matrix product per pair of primitive sets.

#: Primitive-pair weights w(a, b) each (l_a, l_b) block needs, for the overlap and the dipole.
_OVERLAP_WEIGHTS: dict[tuple[int, int], tuple[str, ...]] = {
    (0, 0): ("1",),
    (0, 1): ("a/p",),
    (1, 0): ("b/p",),
    (1, 1): ("ab/p2", "1/2p"),
}
_DIPOLE_WEIGHTS: dict[tuple[int, int], tuple[str, ...]] = {
    (0, 0): ("1", "a/p"),
    (0, 1): ("a/p", "a2/p2", "1/2p"),
    (1, 0): ("b/p", "ab/p2", "1/2p"),
    (1, 1): ("ab/p2", "1/2p", "a2b/p3", "a/2p2", "b/2p2"),
}


def _primitive_weight(name: str, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    p = a + b
    return {
        "1": np.ones_like(p),
        "a/p": a / p,
        "b/p": b / p,
        "ab/p2": a * b / p**2,
        "1/2p": 0.5 / p,
        "a2/p2": a**2 / p**2,
        "a2b/p3": a**2 * b / p**3,
        "a/2p2": 0.5 * a / p**2,
        "b/2p2": 0.5 * b / p**2,
    }[name]


def _normalised_coefficients(shell: Shell) -> np.ndarray:
    """Contraction coefficients times primitive norms, scaled to unit self-overlap (as PySCF)."""
    exponents = np.asarray(shell.exponents, dtype=np.float64)
    # norm of the primitive x^l exp(-a r^2), l = 0, 1 (one Cartesian component)
    norms = (2.0 * exponents / np.pi) ** 0.75 * (4.0 * exponents) ** (0.5 * shell.l)
    c = np.asarray(shell.coefficients, dtype=np.float64) * norms
    p = exponents[:, None] + exponents[None, :]
    self_overlap = c @ ((np.pi / p) ** 1.5 / (2.0 * p) ** shell.l) @ c
    return c / np.sqrt(self_overlap)


def _primitive_sets(number: int) -> tuple[list[tuple[float, ...]], list[int]]:
    """Distinct exponent triples of an element and the set each of its shells uses."""
    sets: list[tuple[float, ...]] = []
    for shell in STO3G_SHELLS[number]:
        if shell.exponents not in sets:
            sets.append(shell.exponents)
    return sets, [sets.index(shell.exponents) for shell in STO3G_SHELLS[number]]


class _SetPair(NamedTuple):
    negative_mu: torch.Tensor  # (9,) Bohr^-2
    constants: torch.Tensor  # (9, n_columns): c_a c_b (pi/p)^{3/2} w(a, b)
    columns: tuple[tuple[int, int, str], ...]  # (shell on A, shell on B, weight) per column


@functools.lru_cache(maxsize=None)
def _pair_recipe(
    number_a: int, number_b: int, dipole: bool, dtype: torch.dtype, device: torch.device
) -> tuple[_SetPair, ...]:
    """Constants for the block between an atom of ``number_a`` and one of ``number_b``.

    Built in float64 once per (elements, integral, dtype, device), then cast.
    """
    weights_of = _DIPOLE_WEIGHTS if dipole else _OVERLAP_WEIGHTS
    shells_a, shells_b = STO3G_SHELLS[number_a], STO3G_SHELLS[number_b]
    sets_a, set_of_a = _primitive_sets(number_a)
    sets_b, set_of_b = _primitive_sets(number_b)
    recipe = []
    for index_a, exponents_a in enumerate(sets_a):
        for index_b, exponents_b in enumerate(sets_b):
            a = np.repeat(np.asarray(exponents_a, dtype=np.float64), 3)  # primitive pairs, a-major
            b = np.tile(np.asarray(exponents_b, dtype=np.float64), 3)
            p = a + b
            columns, constants = [], []
            for sa, shell_a in enumerate(shells_a):
                for sb, shell_b in enumerate(shells_b):
                    if set_of_a[sa] != index_a or set_of_b[sb] != index_b:
                        continue
                    prefactor = np.outer(
                        _normalised_coefficients(shell_a), _normalised_coefficients(shell_b)
                    ).ravel() * (np.pi / p) ** 1.5
                    for name in weights_of[(shell_a.l, shell_b.l)]:
                        columns.append((sa, sb, name))
                        constants.append(prefactor * _primitive_weight(name, a, b))
            recipe.append(
                _SetPair(
                    torch.as_tensor(-a * b / p, device=device).to(dtype),
                    torch.as_tensor(np.stack(constants, axis=1), device=device).to(dtype),
                    tuple(columns),
                )
            )
    return tuple(recipe)


def _overlap_sub_block(
    l_a: int, l_b: int, separation: torch.Tensor, w: dict[str, torch.Tensor]
) -> torch.Tensor:
    """<l_a on A | l_b on B> for all atom pairs, ``(n_a, n_b, 2 l_a + 1, 2 l_b + 1)``."""
    r = separation
    if (l_a, l_b) == (0, 0):
        return w["1"][..., None, None]
    if (l_a, l_b) == (0, 1):
        return (r * w["a/p"][..., None])[..., None, :]
    if (l_a, l_b) == (1, 0):
        return (-r * w["b/p"][..., None])[..., :, None]
    eye = torch.eye(3, dtype=r.dtype, device=r.device)
    return -r[..., :, None] * r[..., None, :] * w["ab/p2"][..., None, None] + eye * w["1/2p"][..., None, None]


def _dipole_sub_block(
    l_a: int, l_b: int, separation: torch.Tensor, ket_offset: torch.Tensor, w: dict[str, torch.Tensor]
) -> torch.Tensor:
    """<l_a on A | x_k - C_k | l_b on B> (Bohr), ``(3, n_a, n_b, 2 l_a + 1, 2 l_b + 1)``.

    ``separation`` R = A - B ``(n_a, n_b, 3)``; ``ket_offset`` Q = B - C ``(1, n_b, 3)``.
    """
    r = separation
    r_k = r.movedim(-1, 0)  # (3, n_a, n_b)
    q_k = ket_offset.movedim(-1, 0)  # (3, 1, n_b)
    eye = torch.eye(3, dtype=r.dtype, device=r.device)
    if (l_a, l_b) == (0, 0):
        return (q_k * w["1"] + r_k * w["a/p"])[..., None, None]
    if (l_a, l_b) == (0, 1):  # Q_k R_j W[a/p] + R_k R_j W[a2/p2] + delta_jk W[1/2p]
        block = (
            q_k[..., None] * (r * w["a/p"][..., None])
            + r_k[..., None] * (r * w["a2/p2"][..., None])
            + eye[:, None, None, :] * w["1/2p"][..., None]
        )
        return block[..., None, :]
    if (l_a, l_b) == (1, 0):  # -Q_k R_i W[b/p] - R_k R_i W[ab/p2] + delta_ik W[1/2p]
        block = (
            -q_k[..., None] * (r * w["b/p"][..., None])
            - r_k[..., None] * (r * w["ab/p2"][..., None])
            + eye[:, None, None, :] * w["1/2p"][..., None]
        )
        return block[..., :, None]
    # Q_k S_ij + R_k [-R_i R_j W[a2b/p3] + delta_ij W[a/2p2]] + delta_ik R_j W[a/2p2] - delta_jk R_i W[b/2p2]
    rr = r[..., :, None] * r[..., None, :]
    overlap = -rr * w["ab/p2"][..., None, None] + eye * w["1/2p"][..., None, None]
    inner = -rr * w["a2b/p3"][..., None, None] + eye * w["a/2p2"][..., None, None]
    return (
        q_k[..., None, None] * overlap
        + r_k[..., None, None] * inner
        + eye[:, None, None, :, None] * (r * w["a/2p2"][..., None])[:, :, None, :]
        - eye[:, None, None, None, :] * (r * w["b/2p2"][..., None])[:, :, :, None]
    )


def _species_pair_block(
    number_a: int,
    number_b: int,
    centres_a: torch.Tensor,
    centres_b: torch.Tensor,
    origin: torch.Tensor | None,
) -> torch.Tensor:
    """All-atom-pair block between two elements, ``(..., n_a * nao_a, n_b * nao_b)`` (Bohr for dipoles).

    ``centres_a`` ``(n_a, 3)`` and ``centres_b`` ``(n_b, 3)`` in Bohr; ``origin`` ``(3,)``
    in Bohr for dipole integrals (leading dimension 3), ``None`` for the overlap.
    """
    dipole = origin is not None
    separation = centres_a[:, None, :] - centres_b[None, :, :]
    squared = (separation * separation).sum(dim=-1, keepdim=True)
    sums: dict[tuple[int, int, str], torch.Tensor] = {}
    for set_pair in _pair_recipe(number_a, number_b, dipole, centres_a.dtype, centres_a.device):
        values = torch.exp(squared * set_pair.negative_mu) @ set_pair.constants
        for column, key in enumerate(set_pair.columns):
            sums[key] = values[..., column]
    ket_offset = (centres_b - origin)[None] if dipole else None
    rows = []
    for sa, shell_a in enumerate(STO3G_SHELLS[number_a]):
        columns = []
        for sb, shell_b in enumerate(STO3G_SHELLS[number_b]):
            names = (_DIPOLE_WEIGHTS if dipole else _OVERLAP_WEIGHTS)[(shell_a.l, shell_b.l)]
            w = {name: sums[(sa, sb, name)] for name in names}
            if dipole:
                columns.append(_dipole_sub_block(shell_a.l, shell_b.l, separation, ket_offset, w))
            else:
                columns.append(_overlap_sub_block(shell_a.l, shell_b.l, separation, w))
        rows.append(torch.cat(columns, dim=-1))
    block = torch.cat(rows, dim=-2)  # (..., n_a, n_b, nao_a, nao_b)
    *batch, n_a, n_b, nao_a, nao_b = block.shape
    return block.transpose(-3, -2).reshape(*batch, n_a * nao_a, n_b * nao_b)


def _one_electron_matrix(
    numbers: np.ndarray, positions_bohr: torch.Tensor, origin: torch.Tensor | None
) -> torch.Tensor:
    """Overlap (``origin`` None) or dipole matrix in AO order, atoms grouped by element internally."""
    if len(numbers) == 0:
        shape = (0, 0) if origin is None else (3, 0, 0)
        return positions_bohr.new_zeros(shape) + 0.0 * positions_bohr.sum()
    species = sorted({int(z) for z in numbers})
    atoms = [np.flatnonzero(numbers == z) for z in species]
    index = [torch.as_tensor(a, dtype=torch.long, device=positions_bohr.device) for a in atoms]
    centres = [positions_bohr.index_select(0, i) for i in index]
    blocks: dict[tuple[int, int], torch.Tensor] = {}
    for i, z_a in enumerate(species):
        for j in range(i, len(species)):
            blocks[i, j] = _species_pair_block(z_a, species[j], centres[i], centres[j], origin)
            if j != i:
                blocks[j, i] = blocks[i, j].transpose(-1, -2)
    matrix = torch.cat(
        [torch.cat([blocks[i, j] for j in range(len(species))], dim=-1) for i in range(len(species))], dim=-2
    )
    # grouped-by-element AO order -> molecular AO order
    slices = ao_slices(numbers)
    grouped = np.concatenate([np.arange(slices[k].start, slices[k].stop) for a in atoms for k in a])
    if np.array_equal(grouped, np.arange(len(grouped))):
        return matrix
    inverse = torch.as_tensor(np.argsort(grouped), dtype=torch.long, device=matrix.device)
    return matrix.index_select(-2, inverse).index_select(-1, inverse)


def _validate_geometry(numbers, positions) -> np.ndarray:
    """Check ``numbers`` and ``positions`` once at the boundary; return numbers as ``int64``."""
    numbers_array = check_numbers_and_positions(numbers, positions)
    check_supported(numbers_array)
    return numbers_array


def overlap_matrix(numbers: Sequence[int], positions: torch.Tensor) -> torch.Tensor:
    r"""Analytic STO-3G overlap matrix :math:`S_{\mu\nu} = \langle\mu|\nu\rangle`.

    Every contracted function has unit self-overlap, as in PySCF: the result is
    ``mol.intor('int1e_ovlp')`` of the same molecule in PySCF's ``sto-3g`` basis.

    Parameters
    ----------
    numbers
        Atomic numbers, shape ``(n_atoms,)``; H, C, N and O are supported.
    positions
        Cartesian positions in Angstrom, a floating-point tensor of shape
        ``(n_atoms, 3)``. The result has its dtype and device and is
        differentiable with respect to it.

    Returns
    -------
    torch.Tensor
        Dimensionless, symmetric, shape ``(n_ao, n_ao)`` with
        ``n_ao = n_basis_functions(numbers)``; rows and columns in
        :func:`ao_labels` order (p functions as px, py, pz).
    """
    numbers = _validate_geometry(numbers, positions)
    return _one_electron_matrix(numbers, positions / BOHR_TO_ANGSTROM, None)


def dipole_integrals(
    numbers: Sequence[int], positions: torch.Tensor, origin: torch.Tensor | Sequence[float] | None = None
) -> torch.Tensor:
    r"""Analytic STO-3G dipole integrals :math:`\langle\mu|\mathbf r - \mathbf O|\nu\rangle`.

    Equal to PySCF's ``mol.intor('int1e_r')`` after ``mol.set_common_orig(origin)``,
    converted from Bohr to Angstrom.

    Parameters
    ----------
    numbers
        Atomic numbers, shape ``(n_atoms,)``; H, C, N and O are supported.
    positions
        Cartesian positions in Angstrom, floating-point tensor ``(n_atoms, 3)``;
        the result has its dtype and device and is differentiable with respect to it.
    origin
        Gauge origin :math:`\mathbf O` in Angstrom, shape ``(3,)``; default ``(0, 0, 0)``.
        A tensor origin stays in the autograd graph.

    Returns
    -------
    torch.Tensor
        In Angstrom, shape ``(3, n_ao, n_ao)``: the x, y and z components, each a
        symmetric matrix in :func:`ao_labels` order.
    """
    numbers = _validate_geometry(numbers, positions)
    dtype, device = positions.dtype, positions.device
    if origin is None:
        origin = torch.zeros(3, dtype=dtype, device=device)
    else:
        if not isinstance(origin, torch.Tensor):
            try:
                origin = torch.as_tensor(np.asarray(origin, dtype=np.float64))
            except (TypeError, ValueError) as error:
                raise TypeError(
                    f"origin must be a sequence of 3 floats or a tensor, got {origin!r}"
                ) from error
        origin = origin.to(dtype=dtype, device=device)
        if origin.shape != (3,):
            raise ValueError(f"origin must have shape (3,), got {tuple(origin.shape)}")
        if not bool(torch.isfinite(origin).all()):
            raise ValueError("origin must be finite, got NaN or infinite values")
    matrix = _one_electron_matrix(numbers, positions / BOHR_TO_ANGSTROM, origin / BOHR_TO_ANGSTROM)
    return matrix * BOHR_TO_ANGSTROM


# ---------------------------------------------------------------------------
# Loewdin (symmetric) orthogonalisation
# ---------------------------------------------------------------------------


class _SymmetricMatrixPower(torch.autograd.Function):
    r"""S^power (power = +-1/2) of a symmetric positive-definite S by eigendecomposition.

    The backward pass is the Daleckii-Krein formula
    :math:`\bar S = V [L \circ (V^T \bar F V)] V^T` with the divided differences
    :math:`L_{ij} = (f(w_i) - f(w_j)) / (w_i - w_j)` written in closed form
    (:math:`-1 / (s_i s_j (s_i + s_j))` for :math:`f = w^{-1/2}`, :math:`1 / (s_i + s_j)`
    for :math:`f = w^{1/2}`, :math:`s = \sqrt w`). It stays finite at degenerate
    eigenvalues (symmetric molecules), where differentiating through ``eigh`` does not.
    """

    @staticmethod
    def forward(
        ctx, matrix: torch.Tensor, eigenvalues: torch.Tensor, eigenvectors: torch.Tensor, power: float
    ) -> torch.Tensor:
        roots = torch.sqrt(eigenvalues)
        values = roots if power > 0 else 1.0 / roots
        ctx.save_for_backward(roots, eigenvectors)
        ctx.power = power
        return (eigenvectors * values[..., None, :]) @ eigenvectors.mT

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad_output: torch.Tensor):
        roots, eigenvectors = ctx.saved_tensors
        outer = roots[..., :, None] * roots[..., None, :]
        sums = roots[..., :, None] + roots[..., None, :]
        divided = 1.0 / sums if ctx.power > 0 else -1.0 / (outer * sums)
        symmetric = 0.5 * (grad_output + grad_output.mT)
        inner = eigenvectors.mT @ symmetric @ eigenvectors
        return eigenvectors @ (divided * inner) @ eigenvectors.mT, None, None, None


def _check_square(value, name: str) -> None:
    if not isinstance(value, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(value).__name__}")
    if not value.is_floating_point():
        raise TypeError(f"{name} must have a floating-point dtype, got {value.dtype}")
    if value.ndim < 2 or value.shape[-1] != value.shape[-2]:
        raise ValueError(f"{name} must have shape (..., n_ao, n_ao), got {tuple(value.shape)}")
    if not bool(torch.isfinite(value).all()):
        raise ValueError(f"{name} must be finite, got NaN or infinite values")


def _overlap_power(overlap: torch.Tensor, power: float, min_eigenvalue: float | None) -> torch.Tensor:
    _check_square(overlap, "overlap")
    eps = torch.finfo(overlap.dtype).eps
    scale = float(overlap.detach().abs().max()) if overlap.numel() else 1.0
    asymmetry = float((overlap.detach() - overlap.detach().mT).abs().max()) if overlap.numel() else 0.0
    if asymmetry > 1e3 * eps * max(scale, 1.0):
        raise ValueError(f"overlap must be symmetric, got max |S - S^T| = {asymmetry:.3e}")
    symmetric = 0.5 * (overlap + overlap.mT)
    eigenvalues, eigenvectors = torch.linalg.eigh(symmetric.detach())
    if eigenvalues.numel():
        threshold = min_eigenvalue
        if threshold is None:
            threshold = max(1e-8, 1e3 * eps * float(eigenvalues.max()))
        smallest = float(eigenvalues.min())
        if not smallest > threshold:
            raise ValueError(
                f"overlap is not positive definite: smallest eigenvalue {smallest:.3e} <= {threshold:.1e} "
                "(are two atoms on top of each other?)"
            )
    return _SymmetricMatrixPower.apply(symmetric, eigenvalues, eigenvectors, power)


def lowdin_orthogonalizer(overlap: torch.Tensor, min_eigenvalue: float | None = None) -> torch.Tensor:
    r"""Loewdin's symmetric orthogonaliser :math:`X = S^{-1/2} = V \operatorname{diag}(w^{-1/2}) V^T`.

    Parameters
    ----------
    overlap
        Symmetric positive-definite AO overlap matrix, dimensionless, shape
        ``(..., n_ao, n_ao)`` (e.g. :func:`overlap_matrix`).
    min_eigenvalue
        Eigenvalues of ``overlap`` at or below this raise ``ValueError``; default
        ``max(1e-8, 1000 eps w_max)`` of the dtype. Near-coincident atoms make
        S singular.

    Returns
    -------
    torch.Tensor
        :math:`S^{-1/2}`, same shape, dtype and device as ``overlap``; symmetric,
        with :math:`X S X = 1`. Differentiable once (the gradient is finite at
        degenerate eigenvalues); second derivatives through it are not supported.
    """
    return _overlap_power(overlap, -0.5, min_eigenvalue)


def _check_matrix_against(matrix, overlap: torch.Tensor) -> None:
    _check_square(matrix, "matrix")
    if matrix.shape[-1] != overlap.shape[-1]:
        raise ValueError(
            f"matrix must have shape (..., {overlap.shape[-1]}, {overlap.shape[-1]}) to match overlap, "
            f"got {tuple(matrix.shape)}"
        )


def lowdin_transform(
    matrix: torch.Tensor, overlap: torch.Tensor, min_eigenvalue: float | None = None
) -> torch.Tensor:
    r"""A matrix in the non-orthogonal AO basis, in the Loewdin-orthogonal basis: :math:`S^{-1/2} M S^{-1/2}`.

    Parameters
    ----------
    matrix
        Operator matrix in the AO basis (e.g. a Hamiltonian in eV), shape ``(..., n_ao, n_ao)``.
    overlap
        AO overlap, shape ``(..., n_ao, n_ao)``, broadcast against ``matrix``.
    min_eigenvalue
        As in :func:`lowdin_orthogonalizer`.

    Returns
    -------
    torch.Tensor
        Same units as ``matrix``, shape the broadcast of both. The eigenvalues of
        the result are those of the generalised problem :math:`M c = \varepsilon S c`.
    """
    orthogonalizer = lowdin_orthogonalizer(overlap, min_eigenvalue)
    _check_matrix_against(matrix, overlap)
    return orthogonalizer @ matrix @ orthogonalizer


def lowdin_back_transform(
    matrix: torch.Tensor, overlap: torch.Tensor, min_eigenvalue: float | None = None
) -> torch.Tensor:
    r"""The inverse of :func:`lowdin_transform`: :math:`S^{1/2} M' S^{1/2}`.

    Takes a matrix in the Loewdin-orthogonal basis (e.g. a predicted Hamiltonian
    in eV), shape ``(..., n_ao, n_ao)``, back to the non-orthogonal AO basis;
    same units, shape the broadcast of ``matrix`` and ``overlap``.
    """
    root = _overlap_power(overlap, 0.5, min_eigenvalue)
    _check_matrix_against(matrix, overlap)
    return root @ matrix @ root
