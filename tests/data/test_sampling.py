"""Langevin sampling of configurations."""

import numpy as np
import pytest
from ase.build import molecule

from ase_mlham.data.sampling import make_sampling_calculator, sample_configurations


def test_frames_start_at_input_and_are_reproducible():
    water = molecule("H2O")
    frames = sample_configurations(water, make_sampling_calculator("gfn2-xtb"), 3, temperature=500, stride=20, seed=3)
    assert len(frames) == 3
    assert np.array_equal(frames[0].positions, water.positions)
    assert np.abs(frames[2].positions - frames[0].positions).max() > 1e-3  # it moved
    again = sample_configurations(water, make_sampling_calculator("gfn2-xtb"), 3, temperature=500, stride=20, seed=3)
    assert np.abs(frames[2].positions - again[2].positions).max() < 1e-10
    # Bonds stay chemical at 500 K with GFN2-xTB.
    assert all(0.8 < f.get_distance(0, 1) < 1.3 for f in frames)


def test_any_ase_calculator():
    frames = sample_configurations(molecule("H2O"), make_sampling_calculator("emt"), 2, stride=5)
    assert len(frames) == 2 and frames[1].calc is None


@pytest.mark.parametrize("kwargs, message", [({"n_frames": 0}, "n_frames"), ({"n_frames": 2, "stride": 0}, "stride"),
                                             ({"n_frames": 2, "temperature": -1}, "temperature")])
def test_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        sample_configurations(molecule("H2O"), make_sampling_calculator("emt"), **kwargs)


def test_unknown_sampler():
    with pytest.raises(ValueError, match="unknown sampler 'dftb'"):
        make_sampling_calculator("dftb")
