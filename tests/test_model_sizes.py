"""Every model constructor refuses a bad size with a ValueError naming the argument."""

import pytest
import torch  # noqa: F401  (the models need it)

from course_utils.models import (
    AugmentedNeuralODE,
    LatentODE,
    ODEFunc,
    planar_flow,
    radial_flow,
    realnvp_flow,
)

CASES = [
    (lambda: ODEFunc(dim=-2), r"`dim` must be a positive integer, got -2"),
    (lambda: ODEFunc(dim=2, hidden=0), r"`hidden` must be a positive integer, got 0"),
    (lambda: ODEFunc(dim=2, num_layers=0), r"`num_layers` must be a positive integer"),
    (lambda: ODEFunc(dim=2.5), r"`dim` must be a positive integer, got 2.5"),
    (lambda: planar_flow(2, num_layers=-1), r"`num_layers` must be a positive integer"),
    (lambda: radial_flow(0, num_layers=2), r"`dim` must be a positive integer"),
    (lambda: realnvp_flow(1, 4), r"`dim` must be an integer >= 2, got 1"),
    (lambda: realnvp_flow(2, 4, hidden=0), r"`hidden` must be a positive integer"),
    (lambda: LatentODE(obs_dim=0), r"`obs_dim` must be a positive integer, got 0"),
    (lambda: LatentODE(latent_dim=-1), r"`latent_dim` must be a positive integer"),
    (lambda: AugmentedNeuralODE(2, augment_dim=-1), r"`augment_dim` must be an integer >= 0"),
    (lambda: AugmentedNeuralODE(0), r"`data_dim` must be a positive integer"),
]


@pytest.mark.parametrize("build, match", CASES, ids=[m for _, m in CASES])
def test_bad_sizes_raise_a_value_error_naming_the_argument(build, match):
    with pytest.raises(ValueError, match=match):
        build()


def test_good_sizes_still_build():
    assert ODEFunc(dim=2, hidden=8).dim == 2
    assert len(planar_flow(2, 3).layers) == 3
    assert LatentODE(obs_dim=2, latent_dim=3).latent_dim == 3
