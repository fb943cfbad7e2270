r"""Block bookkeeping: a minimal-basis Hamiltonian as symmetry-adapted blocks, and back.

A Hamiltonian :math:`H` (``(n_ao, n_ao)``, PySCF AO order) is cut into blocks
between the shells of two atoms. Each block between shells with angular
momenta :math:`l_1, l_2` is coupled with real Clebsch-Gordan coefficients into
irreducible components :math:`\lambda = |l_1-l_2| .. l_1+l_2`, which rotate by
the real Wigner-D matrix :math:`D^\lambda` and change sign under inversion by
:math:`(-1)^{l_1+l_2}`. Four kinds of block:

``onsite``
    :math:`H_{ii}`, shells ``a <= b`` of atom i. For ``a == b`` only the
    components symmetric under transposition survive (:math:`\lambda` even for
    p-p), the others vanish because :math:`H` is symmetric.
``pair_sym`` / ``pair_antisym``
    Atoms ``i < j`` of the same species: :math:`(H_{i_a j_b} \pm H_{j_a i_b})/\sqrt2`
    for shells ``a <= b``. Swapping i and j maps the first to itself and the
    second to minus itself, so a model that predicts them from pair features
    symmetrised (``ij + ji``) and antisymmetrised (``ij - ji``) is
    permutation-equivariant by construction. For ``a == b`` the symmetric
    combination keeps the transposition-symmetric :math:`\lambda` and the
    antisymmetric one the others.
``pair``
    Atoms of different species, ordered so that ``Z_i < Z_j``: :math:`H_{i_a j_b}`
    for every shell pair.

:func:`hamiltonian_to_blocks` and :func:`blocks_to_hamiltonian` are exact
inverses (the coupling matrices are orthogonal); pairs left out of the pair
list are zero in the assembled matrix.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch

from ase_mlham.basis import P_CARTESIAN_TO_SPHERICAL, STO3G_SHELLS, ao_slices, check_supported
from ase_mlham.descriptors.clebsch_gordan import clebsch_gordan_real

KINDS = ("onsite", "pair_sym", "pair_antisym", "pair")


@dataclass(frozen=True, order=True)
class BlockKey:
    """One family of blocks: kind, species ``(Z_i, Z_j)``, shell indices ``(a, b)``, lambda.

    Shell indices refer to :data:`ase_mlham.basis.STO3G_SHELLS` of each species.
    """

    kind: str
    species: tuple[int, int]
    shells: tuple[int, int]
    lam: int

    @property
    def angular(self) -> tuple[int, int]:
        """Angular momenta ``(l_a, l_b)`` of the two shells."""
        return (STO3G_SHELLS[self.species[0]][self.shells[0]].l, STO3G_SHELLS[self.species[1]][self.shells[1]].l)

    @property
    def parity(self) -> int:
        """Sign of the block under inversion, :math:`(-1)^{l_a + l_b}`."""
        return (-1) ** sum(self.angular)


@functools.lru_cache(maxsize=None)
def _coupling_matrix_float64(l1: int, l2: int) -> tuple[np.ndarray, tuple[int, ...]]:
    """Orthogonal ``((2l1+1)(2l2+1), same)`` matrix whose column groups are the lambdas."""
    lambdas = tuple(range(abs(l1 - l2), l1 + l2 + 1))
    columns = [clebsch_gordan_real(l1, l2, lam, dtype=torch.float64).reshape((2 * l1 + 1) * (2 * l2 + 1), 2 * lam + 1)
               for lam in lambdas]
    matrix = torch.cat(columns, dim=1).numpy()
    if not np.allclose(matrix.T @ matrix, np.eye(matrix.shape[1]), atol=1e-12):
        raise RuntimeError(f"Clebsch-Gordan coefficients of {l1}x{l2} are not orthonormal")
    return matrix, lambdas


def coupling_matrix(l1: int, l2: int, dtype: torch.dtype = torch.float64,
                    device: torch.device | str = "cpu") -> tuple[torch.Tensor, tuple[int, ...]]:
    """The coupling matrix of :func:`_coupling_matrix_float64` in the caller's dtype, and its lambdas."""
    matrix, lambdas = _coupling_matrix_float64(l1, l2)
    return torch.as_tensor(matrix, dtype=dtype, device=device), lambdas


@functools.lru_cache(maxsize=None)
def _transposition_symmetric(l: int, lam: int) -> bool:
    """Whether the lambda component of an l x l block is unchanged by transposing the block."""
    cg = clebsch_gordan_real(l, l, lam, dtype=torch.float64)
    if torch.allclose(cg, cg.transpose(0, 1), atol=1e-12):
        return True
    if torch.allclose(cg, -cg.transpose(0, 1), atol=1e-12):
        return False
    raise RuntimeError(f"Clebsch-Gordan coefficients of {l}x{l}->{lam} have no transposition symmetry")


def block_keys(species: Sequence[int] = (1, 6, 7, 8)) -> list[BlockKey]:
    """Every block family that can be non-zero for molecules of ``species``, sorted."""
    check_supported(species)
    species = sorted(set(int(z) for z in species))
    keys = []
    for z_i in species:
        for z_j in species:
            if z_j < z_i:
                continue
            n_i, n_j = len(STO3G_SHELLS[z_i]), len(STO3G_SHELLS[z_j])
            for a in range(n_i):
                for b in range(n_j):
                    l_a, l_b = STO3G_SHELLS[z_i][a].l, STO3G_SHELLS[z_j][b].l
                    for lam in range(abs(l_a - l_b), l_a + l_b + 1):
                        if z_i != z_j:
                            keys.append(BlockKey("pair", (z_i, z_j), (a, b), lam))
                            continue
                        if a > b:
                            continue
                        symmetric = a != b or _transposition_symmetric(l_a, lam)
                        antisymmetric = a != b or not _transposition_symmetric(l_a, lam)
                        if symmetric:
                            keys.append(BlockKey("onsite", (z_i, z_i), (a, b), lam))
                            keys.append(BlockKey("pair_sym", (z_i, z_i), (a, b), lam))
                        if antisymmetric:
                            keys.append(BlockKey("pair_antisym", (z_i, z_i), (a, b), lam))
    return sorted(keys)


def _local_ao_indices(z: int, shell: int) -> torch.Tensor:
    """AO indices of a shell within its atom, in real-spherical-harmonic order (p as y, z, x)."""
    shells = STO3G_SHELLS[z]
    offset = sum(2 * s.l + 1 for s in shells[:shell])
    order = P_CARTESIAN_TO_SPHERICAL if shells[shell].l == 1 else (0,)
    return torch.tensor([offset + k for k in order], dtype=torch.long)


def _atom_offsets(numbers: Sequence[int]) -> torch.Tensor:
    """First AO index of each atom, shape ``(n_atoms,)``."""
    return torch.tensor([s.start for s in ao_slices(numbers)], dtype=torch.long)


def _block_indices(offsets: torch.Tensor, atoms_i: torch.Tensor, atoms_j: torch.Tensor, key: BlockKey
                   ) -> tuple[torch.Tensor, torch.Tensor]:
    """Row ``(n, 2l_a+1)`` and column ``(n, 2l_b+1)`` AO indices of the shell blocks of ``key``."""
    rows = offsets[atoms_i][:, None] + _local_ao_indices(key.species[0], key.shells[0])[None, :]
    cols = offsets[atoms_j][:, None] + _local_ao_indices(key.species[1], key.shells[1])[None, :]
    return rows, cols


def default_pairs(numbers: Sequence[int]) -> torch.Tensor:
    """All atom pairs in block order, shape ``(n_pairs, 2)``: ``Z_i < Z_j``, or ``i < j`` for equal species."""
    numbers = [int(z) for z in numbers]
    pairs = [(i, j) if numbers[i] < numbers[j] or (numbers[i] == numbers[j]) else (j, i)
             for i in range(len(numbers)) for j in range(i + 1, len(numbers))]
    return torch.tensor(pairs, dtype=torch.long).reshape(-1, 2)


def canonical_pairs(numbers: Sequence[int], pairs: torch.Tensor) -> torch.Tensor:
    """Reorder each unordered pair ``(i, j)`` into block order (see :func:`default_pairs`)."""
    z = torch.as_tensor([int(n) for n in numbers], dtype=torch.long)
    i, j = pairs[:, 0], pairs[:, 1]
    swap = (z[i] > z[j]) | ((z[i] == z[j]) & (i > j))
    return torch.stack([torch.where(swap, j, i), torch.where(swap, i, j)], dim=1)


@dataclass
class Blocks:
    """Coupled blocks of one molecule: per key, ``samples`` ``(n, 2)`` atom pairs ``(i, j)``
    (``(i, i)`` on-site) and ``values`` ``(n, 2 lambda + 1)`` in the Hamiltonian's units."""

    samples: dict[BlockKey, torch.Tensor]
    values: dict[BlockKey, torch.Tensor]


def block_samples(numbers: Sequence[int], pairs: torch.Tensor | None = None) -> dict[BlockKey, torch.Tensor]:
    """Atom pairs ``(n, 2)`` of every block key present in a molecule.

    ``pairs`` ``(n_pairs, 2)``: the off-site pairs kept (e.g. those within the
    pair cutoff), any order within a pair, each unordered pair once; default all.
    """
    numbers = [int(z) for z in numbers]
    z = torch.tensor(numbers, dtype=torch.long)
    pairs = default_pairs(numbers) if pairs is None else canonical_pairs(numbers, pairs)
    pairs = pairs[torch.argsort(pairs[:, 0] * max(len(numbers), 1) + pairs[:, 1])]  # block order: by (i, j)
    atoms = torch.arange(len(numbers))
    samples = {}
    for key in block_keys(numbers):
        if key.kind == "onsite":
            chosen = atoms[z == key.species[0]]
            sample = torch.stack([chosen, chosen], dim=1)
        else:
            mask = (z[pairs[:, 0]] == key.species[0]) & (z[pairs[:, 1]] == key.species[1])
            sample = pairs[mask]
        if len(sample):
            samples[key] = sample
    return samples


def _coupled_slice(key: BlockKey, dtype: torch.dtype, device) -> torch.Tensor:
    """Columns of the coupling matrix belonging to ``key.lam``: ``((2l_a+1)(2l_b+1), 2 lambda + 1)``."""
    matrix, lambdas = coupling_matrix(*key.angular, dtype=dtype, device=device)
    start = sum(2 * lam + 1 for lam in lambdas if lam < key.lam)
    return matrix[:, start:start + 2 * key.lam + 1]


def hamiltonian_to_blocks(hamiltonian: torch.Tensor, numbers: Sequence[int],
                          pairs: torch.Tensor | None = None) -> Blocks:
    """Couple a symmetric ``(n_ao, n_ao)`` matrix (PySCF AO order) into blocks.

    ``pairs`` as in :func:`block_samples`. Differentiable in ``hamiltonian``.
    """
    offsets = _atom_offsets(numbers)
    samples = block_samples(numbers, pairs)
    values = {}
    for key, ij in samples.items():
        rows, cols = _block_indices(offsets, ij[:, 0], ij[:, 1], key)
        block = hamiltonian[rows[:, :, None], cols[:, None, :]]
        if key.kind in ("pair_sym", "pair_antisym"):
            rows_ji, cols_ji = _block_indices(offsets, ij[:, 1], ij[:, 0], key)
            sign = 1.0 if key.kind == "pair_sym" else -1.0
            block = (block + sign * hamiltonian[rows_ji[:, :, None], cols_ji[:, None, :]]) / math.sqrt(2.0)
        values[key] = block.reshape(len(ij), -1) @ _coupled_slice(key, hamiltonian.dtype, hamiltonian.device)
    return Blocks(samples, values)


@dataclass
class BlockLayout:
    """Where the coupled blocks of a batch of molecules land in a padded batch of matrices.

    Atoms are numbered globally across the batch (molecule k's atoms follow
    molecule k-1's). Per key: ``samples[key]`` ``(n, 2)`` global atom pairs in
    block order, ``molecule[key]`` ``(n,)`` the molecule of each sample, and
    ``destinations[key]``: ``(flat_index, scale)`` pairs telling where the
    uncoupled values ``(n, 2l_a+1, 2l_b+1)`` (flattened) are added, with which
    factor, in the flattened ``(n_molecules, n_max, n_max)`` batch.
    """

    n_molecules: int
    n_max: int
    sizes: list[int]
    samples: dict[BlockKey, torch.Tensor]
    molecule: dict[BlockKey, torch.Tensor]
    destinations: dict[BlockKey, list[tuple[torch.Tensor, float]]]


def block_layout(numbers_list: Sequence[Sequence[int]],
                 pairs_list: Sequence[torch.Tensor | None] | None = None) -> BlockLayout:
    """Layout of a batch of molecules; ``pairs_list[k]`` as in :func:`block_samples` (local indices)."""
    pairs_list = pairs_list if pairs_list is not None else [None] * len(numbers_list)
    sizes = [int(ao_slices(numbers)[-1].stop) for numbers in numbers_list]
    n_max = max(sizes)
    per_key: dict[BlockKey, list[tuple[torch.Tensor, torch.Tensor, int]]] = {}
    atom_start = 0
    for k, (numbers, pairs) in enumerate(zip(numbers_list, pairs_list)):
        for key, ij in block_samples(numbers, pairs).items():
            per_key.setdefault(key, []).append((ij, torch.full((len(ij),), k, dtype=torch.long), atom_start))
        atom_start += len(numbers)
    offsets = [_atom_offsets(numbers) for numbers in numbers_list]
    samples, molecule, destinations = {}, {}, {}
    for key in sorted(per_key):
        parts = per_key[key]
        samples[key] = torch.cat([ij + start for ij, _, start in parts])
        molecule[key] = torch.cat([mol for _, mol, _ in parts])
        writes: list[tuple[list[torch.Tensor], float]] = []
        a, b = key.shells
        # (i_a, j_b) block, and for symmetrised pairs of distinct shells also (j_a, i_b).
        routes = [(0, 1, 1.0 if key.kind in ("onsite", "pair") else 1 / math.sqrt(2.0))]
        if key.kind in ("pair_sym", "pair_antisym") and a != b:
            routes.append((1, 0, (1.0 if key.kind == "pair_sym" else -1.0) / math.sqrt(2.0)))
        for first, second, scale in routes:
            direct, transposed = [], []
            for ij, mol, _ in parts:
                k = int(mol[0])
                rows, cols = _block_indices(offsets[k], ij[:, first], ij[:, second], key)
                base = k * n_max * n_max
                direct.append((base + rows[:, :, None] * n_max + cols[:, None, :]).reshape(-1))
                transposed.append((base + cols[:, None, :] * n_max + rows[:, :, None]).reshape(-1))
            writes.append((direct, scale))
            if not (key.kind == "onsite" and a == b):  # a diagonal shell block is its own transpose
                writes.append((transposed, scale))
        destinations[key] = [(torch.cat(index), scale) for index, scale in writes]
    return BlockLayout(len(numbers_list), n_max, sizes, samples, molecule, destinations)


def assemble(values: dict[BlockKey, torch.Tensor], layout: BlockLayout) -> torch.Tensor:
    """Padded batch ``(n_molecules, n_max, n_max)`` of symmetric matrices from coupled blocks.

    ``values[key]`` ``(n, 2 lambda + 1)`` in the order of ``layout.samples[key]``, or
    ``(n_members, n, 2 lambda + 1)`` for several matrices on the same layout at once (a committee:
    the result is then ``(n_members, n_molecules, n_max, n_max)``); keys absent from ``values``
    are zero. Rows and columns beyond a molecule's size are zero. Differentiable in the values:
    this is how predicted blocks become :math:`H'`.
    """
    reference = next(iter(values.values()))
    dtype, device = reference.dtype, reference.device
    members = reference.shape[:-2]
    flat = torch.zeros(*members, layout.n_molecules * layout.n_max**2, dtype=dtype, device=device)
    for key, coupled in values.items():
        uncoupled = (coupled @ _coupled_slice(key, dtype, device).T).reshape(*members, -1)
        for index, scale in layout.destinations[key]:
            flat = flat.index_add(-1, index.to(device), uncoupled if scale == 1.0 else scale * uncoupled)
    return flat.reshape(*members, layout.n_molecules, layout.n_max, layout.n_max)


def blocks_to_hamiltonian(blocks: Blocks, numbers: Sequence[int]) -> torch.Tensor:
    """Assemble the symmetric ``(n_ao, n_ao)`` matrix of one molecule (missing blocks are zero)."""
    pairs = torch.cat([torch.zeros(0, 2, dtype=torch.long)]
                      + [ij for key, ij in blocks.samples.items() if key.kind != "onsite"])
    layout = block_layout([numbers], [torch.unique(pairs, dim=0)])
    values = {}
    for key, ij in layout.samples.items():
        if key in blocks.values:
            if not torch.equal(blocks.samples[key], ij):
                raise ValueError(f"samples of block {key} are not in block order")
            values[key] = blocks.values[key]
    return assemble(values, layout)[0]
