"""Block bookkeeping: exact round trip, Wigner-D equivariance, permutation behaviour."""

import math

import pytest
import torch
from ase.build import molecule
from scipy.spatial.transform import Rotation

from ase_mlham.basis import n_basis_functions, overlap_matrix
from ase_mlham.descriptors.spherical_harmonics import wigner_d_real
from ase_mlham.model.blocks import (BlockKey, block_keys, block_samples, blocks_to_hamiltonian,
                                    hamiltonian_to_blocks)

DTYPE = torch.float64


def positions_of(atoms):
    return torch.tensor(atoms.positions, dtype=DTYPE)


@pytest.fixture
def mixed():
    """A molecule with all four species, two of each heavy kind of pair."""
    atoms = molecule("CH3CONH2") + molecule("HCOOH")
    atoms.positions[-5:] += [4.0, 0.3, -0.2]
    return atoms


def random_symmetric(n, seed=0):
    a = torch.randn(n, n, dtype=DTYPE, generator=torch.Generator().manual_seed(seed))
    return a + a.T


def test_round_trip_is_exact(mixed):
    h = random_symmetric(n_basis_functions(mixed.numbers))
    blocks = hamiltonian_to_blocks(h, mixed.numbers)
    assert torch.allclose(blocks_to_hamiltonian(blocks, mixed.numbers), h, atol=1e-12, rtol=0)
    # The number of coupled values equals the number of independent matrix entries.
    n = h.shape[0]
    assert sum(v.numel() for v in blocks.values.values()) == n * (n + 1) // 2


def test_left_out_pairs_are_zero(mixed):
    h = random_symmetric(n_basis_functions(mixed.numbers), seed=1)
    pairs = torch.tensor([[1, 0], [2, 3]])
    assembled = blocks_to_hamiltonian(hamiltonian_to_blocks(h, mixed.numbers, pairs), mixed.numbers)
    kept = hamiltonian_to_blocks(assembled, mixed.numbers)
    for key, values in kept.values.items():
        for (i, j), value in zip(kept.samples[key].tolist(), values):
            if i != j and sorted((i, j)) not in ([0, 1], [2, 3]):
                assert torch.all(value == 0)


def test_vanishing_blocks_are_skipped():
    keys = block_keys()
    # on-site p-p of one shell: lambda = 1 is antisymmetric, so it vanishes for a symmetric H
    assert BlockKey("onsite", (6, 6), (2, 2), 1) not in keys
    assert BlockKey("onsite", (6, 6), (2, 2), 2) in keys
    assert BlockKey("pair_antisym", (6, 6), (2, 2), 1) in keys
    assert BlockKey("pair_antisym", (1, 1), (0, 0), 0) not in keys  # H-H s-s is symmetric
    assert all(k.species[0] < k.species[1] for k in keys if k.kind == "pair")


@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("improper", [False, True])
def test_blocks_of_the_overlap_rotate_by_wigner_d(mixed, seed, improper):
    rotation = Rotation.random(random_state=seed).as_matrix()
    if improper:
        rotation = -rotation  # rotation followed by inversion
    positions = positions_of(mixed)
    rotated = positions @ torch.tensor(rotation.T, dtype=DTYPE)
    blocks = hamiltonian_to_blocks(overlap_matrix(mixed.numbers, positions), mixed.numbers)
    blocks_rotated = hamiltonian_to_blocks(overlap_matrix(mixed.numbers, rotated), mixed.numbers)
    for key, values in blocks.values.items():
        d = wigner_d_real(key.lam, torch.tensor(rotation, dtype=DTYPE))
        if improper:
            # wigner_d_real of an improper R includes (-1)^lambda; a block picks up (-1)^(l_a+l_b)
            d = d * (-1) ** key.lam * key.parity
        expected = values @ d.T
        assert torch.allclose(blocks_rotated.values[key], expected, atol=1e-10, rtol=0), key


def test_swapping_equal_atoms_flips_antisymmetric_blocks():
    atoms = molecule("H2CCHCN")
    h = overlap_matrix(atoms.numbers, positions_of(atoms))
    blocks = hamiltonian_to_blocks(h, atoms.numbers)
    carbons = [i for i, z in enumerate(atoms.numbers) if z == 6][:2]
    order = list(range(len(atoms)))
    order[carbons[0]], order[carbons[1]] = order[carbons[1]], order[carbons[0]]
    swapped = atoms[order]
    blocks_swapped = hamiltonian_to_blocks(overlap_matrix(swapped.numbers, positions_of(swapped)), swapped.numbers)
    key = BlockKey("pair_antisym", (6, 6), (0, 2), 1)
    pair = block_samples(atoms.numbers)[key].tolist().index(sorted(carbons))
    assert torch.linalg.norm(blocks.values[key][pair]) > 1e-3
    assert torch.allclose(blocks_swapped.values[key][pair], -blocks.values[key][pair], atol=1e-12)
    key = BlockKey("pair_sym", (6, 6), (0, 2), 1)
    assert torch.allclose(blocks_swapped.values[key][pair], blocks.values[key][pair], atol=1e-12)


def test_gradients_flow_through_assembly(mixed):
    h = random_symmetric(n_basis_functions(mixed.numbers), seed=2)
    blocks = hamiltonian_to_blocks(h, mixed.numbers)
    leaf = {k: v.clone().requires_grad_() for k, v in blocks.values.items()}
    blocks.values = leaf
    assembled = blocks_to_hamiltonian(blocks, mixed.numbers)
    torch.linalg.eigvalsh(assembled).sum().backward()
    assert all(v.grad is not None and torch.isfinite(v.grad).all() for v in leaf.values())
    assert math.isclose(float(torch.trace(assembled.detach())), float(torch.trace(h)), rel_tol=1e-12)


def test_batch_assembly_equals_each_molecule_padded(mixed):
    from ase_mlham.model.blocks import assemble, block_layout

    water = molecule("H2O")
    molecules = [water, mixed, molecule("C2H4")]
    hamiltonians = [random_symmetric(n_basis_functions(m.numbers), seed=k) for k, m in enumerate(molecules)]
    layout = block_layout([m.numbers for m in molecules])
    values = {}
    per_molecule = [hamiltonian_to_blocks(h, m.numbers) for h, m in zip(hamiltonians, molecules)]
    for key in layout.samples:
        values[key] = torch.cat([b.values[key] for b in per_molecule if key in b.values])
    batch = assemble(values, layout)
    assert batch.shape == (3, layout.n_max, layout.n_max)
    for k, h in enumerate(hamiltonians):
        n = h.shape[0]
        assert torch.allclose(batch[k, :n, :n], h, atol=1e-12, rtol=0)
        assert torch.all(batch[k, n:] == 0) and torch.all(batch[k, :, n:] == 0)
    # global atom numbering: the first sample of the second molecule starts after water's 3 atoms
    key = BlockKey("onsite", (8, 8), (0, 0), 0)
    assert layout.samples[key][:, 0].tolist()[:2] == [0, 3 + list(mixed.numbers).index(8)]
