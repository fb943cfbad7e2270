"""i-PI socket driver for ase-mlham models (see issue: i-PI socket driver)."""
