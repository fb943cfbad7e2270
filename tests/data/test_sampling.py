"""Langevin sampling of configurations."""

import numpy as np
import pytest
from ase.build import molecule

from ase.calculators.emt import EMT

from ase_mlham.calculator import MLHamCalculator
from ase_mlham.data.sampling import MAX_RESTARTS, make_sampling_calculator, sample_configurations
from ase_mlham.model.io import save_model
from ase_mlham.model.testing import random_tiny_model


@pytest.fixture(scope="module")
def tiny_model_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("model") / "tiny.pt"
    save_model(random_tiny_model(seed=0), path)
    return path


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


class FailingEMT(EMT):
    """EMT that raises like the ML calculators on overlapping atoms, on chosen force calls."""

    def __init__(self, failing_calls):
        super().__init__()
        self.failing_calls, self.calls = set(failing_calls), 0

    def calculate(self, *args, **kwargs):
        self.calls += 1
        if self.calls in self.failing_calls:
            raise ValueError("atoms 0 and 1 are 0.3 A apart")
        super().calculate(*args, **kwargs)


def test_a_failed_stride_restarts_from_the_start():
    water = molecule("H2O")
    calculator = FailingEMT({4})
    with pytest.warns(RuntimeWarning, match="restarts from the starting geometry.*0.3 A apart"):
        frames = sample_configurations(water, calculator, 3, stride=5, seed=1)
    assert len(frames) == 3
    assert calculator.calls > 2 * 5 + 3  # the failed stride was run again
    assert np.array_equal(frames[0].positions, water.positions)


def test_sampling_gives_up_after_repeated_failures():
    calculator = FailingEMT(range(1, 10_000))
    with pytest.raises(RuntimeError, match=f"failed {MAX_RESTARTS + 1} times.*0.3 A apart"), \
            pytest.warns(RuntimeWarning):
        sample_configurations(molecule("H2O"), calculator, 2, stride=5)


def test_model_sampler_runs_the_ml_calculator(tiny_model_file):
    calculator = make_sampling_calculator("mlham", str(tiny_model_file))
    assert isinstance(calculator, MLHamCalculator) and calculator.n_excitations == 0
    frames = sample_configurations(molecule("H2O"), calculator, 2, stride=3, temperature=300)
    assert len(frames) == 2 and np.abs(frames[1].positions - frames[0].positions).max() > 0


def test_a_sampling_model_needs_the_model_sampler():
    with pytest.raises(ValueError, match="only used with the 'mlham' sampler"):
        make_sampling_calculator("gfn2-xtb", "model.pt")


def test_relaxation_reaches_the_minimum_and_leaves_the_input_alone():
    from ase_mlham.data.sampling import relax_structure

    water = molecule("H2O")
    water.positions[1] += [0.0, 0.2, 0.1]
    before = water.positions.copy()
    calculator = make_sampling_calculator("gfn2-xtb")
    relaxed = relax_structure(water, calculator)
    assert np.array_equal(water.positions, before) and relaxed.calc is None
    relaxed.calc = calculator
    assert np.linalg.norm(relaxed.get_forces(), axis=1).max() < 0.01


def test_relaxation_that_does_not_converge_raises():
    from ase_mlham.data.sampling import relax_structure

    water = molecule("H2O")
    water.positions[1] += [0.0, 0.3, 0.0]
    with pytest.raises(RuntimeError, match="relaxation did not converge in 2 steps"):
        relax_structure(water, make_sampling_calculator("gfn2-xtb"), steps=2)
