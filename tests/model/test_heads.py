"""The energy head's MLP inputs (the Hamiltonian head is covered through the model in test_model.py)."""

import torch

from ase_mlham.model.heads import EnergyHead
from ase_mlham.training.initialise import fit_energy_standardisation


def test_energy_networks_read_invariants_of_unit_mean_square():
    """Standardised as fit_energy_head does it (one RMS per species), then scaled:
    the MLPs' first layers see components of mean square exactly 1 over the standardisation's atoms.
    Unscaled they would be ~1/n_invariants and the SiLUs would stay linear."""
    generator = torch.Generator().manual_seed(0)
    n_invariants = 50
    head = EnergyHead(species=(1, 6), n_invariants=n_invariants, hidden=(8,))
    invariants = 3.0 + 0.2 * torch.randn(40, n_invariants, generator=generator, dtype=torch.float64)
    species_index = torch.arange(40) % 2
    fit_energy_standardisation(head, invariants, species_index)
    seen = []
    for network in head.networks:
        network[0].register_forward_pre_hook(lambda module, args: seen.append(args[0]))
    head(invariants, species_index)
    assert len(seen) == 2
    for network_input in seen:
        assert abs(float((network_input**2).mean()) - 1.0) < 1e-12
