"""Eigen-solver, padding and occupations."""

import pytest
import torch

from ase_mlham.electronic import (number_of_occupied_orbitals, orbital_energies, padded_orbital_energies,
                                  solve_orbitals)


def random_symmetric(n, seed):
    a = torch.randn(n, n, dtype=torch.float64, generator=torch.Generator().manual_seed(seed))
    return (a + a.T) * 5


def test_padding_reproduces_each_spectrum_exactly():
    hamiltonians = [random_symmetric(n, seed) for seed, n in enumerate((7, 3, 12))]
    energies, mask = padded_orbital_energies(hamiltonians)
    assert energies.shape == (3, 12) and mask.sum(1).tolist() == [7, 3, 12]
    for k, h in enumerate(hamiltonians):
        assert torch.allclose(energies[k][mask[k]], torch.linalg.eigvalsh(h), atol=1e-11, rtol=0)


def test_eigenvalue_gradient_at_a_degeneracy_is_finite():
    h = torch.diag(torch.tensor([-1.0, 2.0, 2.0, 5.0], dtype=torch.float64)).requires_grad_()
    orbital_energies(h)[:3].sum().backward()
    assert torch.isfinite(h.grad).all()
    assert torch.allclose(torch.diagonal(h.grad), torch.tensor([1.0, 1.0, 1.0, 0.0], dtype=torch.float64))


def test_homo_lumo_gap_and_occupations():
    h = torch.diag(torch.tensor([-20.0, -10.0, -7.5, 1.5], dtype=torch.float64))
    orbitals = solve_orbitals(h, nocc=3)
    assert orbitals.homo.item() == -7.5 and orbitals.lumo.item() == 1.5 and orbitals.gap.item() == 9.0
    assert orbitals.occupations.tolist() == [2, 2, 2, 0]
    c = orbitals.coefficients
    assert torch.allclose(c.T @ h @ c, torch.diag(orbitals.energies))


def test_number_of_occupied_orbitals():
    assert number_of_occupied_orbitals([8, 1, 1]) == 5
    with pytest.raises(ValueError, match="closed-shell"):
        number_of_occupied_orbitals([6, 1, 1, 1])
    with pytest.raises(ValueError, match="nocc must be between"):
        solve_orbitals(torch.eye(3, dtype=torch.float64), nocc=4)
    with pytest.raises(ValueError, match="no unoccupied orbital"):
        solve_orbitals(torch.eye(2, dtype=torch.float64), nocc=2).lumo
