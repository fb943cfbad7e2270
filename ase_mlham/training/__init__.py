"""Training of ML Hamiltonian models: data preparation, closed-form initialisation, the loop."""
