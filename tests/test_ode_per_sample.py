"""Per-sample step control (``per_sample=True``): against solve_ivp, the shared norm and
the same sample solved alone."""

import numpy as np
import pytest
import torch
from scipy.integrate import solve_ivp

from course_utils.ode import ODESolverError, odeint

PAIRS = ["dopri5", "bosh3", "fehlberg45"]


def _decay_rates(batch, hard=50.0):
    """Row 0 is the hard member (fast oscillation), the others are easy."""
    rates = np.full(batch, 1.0)
    rates[0] = hard
    return rates


def _oscillator(rates):
    """y'' = -ω_b² y per row, first-order form: row b = (x, v)."""
    def f(t, y):
        w2 = rates[:, None] ** 2 if isinstance(y, np.ndarray) else \
            torch.as_tensor(rates[:, None] ** 2, dtype=y.dtype)
        return np.concatenate([y[:, 1:], -w2 * y[:, :1]], axis=1) \
            if isinstance(y, np.ndarray) else torch.cat([y[:, 1:], -w2 * y[:, :1]], dim=1)
    return f


def _exact(rates, times):
    times = np.asarray(times)[:, None]
    return np.stack([np.cos(rates[None, :] * times),
                     -rates[None, :] * np.sin(rates[None, :] * times)], axis=-1)


@pytest.mark.parametrize("method", PAIRS)
def test_each_row_matches_solve_ivp(method):
    rates = np.array([3.0, 1.0, 0.5, 7.0])
    y0 = np.stack([np.ones(4), np.zeros(4)], axis=1)
    times = np.linspace(0.0, 2.0, 9)
    ys = odeint(_oscillator(rates), y0, times, method=method, rtol=1e-8, atol=1e-10,
                per_sample=True)
    for b, w in enumerate(rates):
        ref = solve_ivp(lambda t, u, w=w: [u[1], -w * w * u[0]], (0, 2), y0[b], t_eval=times,
                        rtol=1e-12, atol=1e-12, method="DOP853").y.T
        np.testing.assert_allclose(ys[:, b], ref, atol=2e-6 * max(1.0, w))


@pytest.mark.parametrize("method", PAIRS)
def test_a_sample_in_a_batch_takes_the_steps_it_takes_alone(method):
    rates = _decay_rates(20)
    y0 = np.stack([np.ones(20), np.zeros(20)], axis=1)
    times = [0.0, 1.0, 3.0]
    ys, stats = odeint(_oscillator(rates), y0, times, method=method, rtol=1e-6, atol=1e-6,
                       per_sample=True, return_stats=True)
    alone, alone_stats = odeint(_oscillator(rates[:1]), y0[:1], times, method=method,
                                rtol=1e-6, atol=1e-6, return_stats=True)
    np.testing.assert_allclose(ys[:, 0], alone[:, 0], rtol=1e-12, atol=1e-12)
    assert stats.per_sample_accepted[0] == alone_stats.num_accepted
    assert np.all(stats.per_sample_accepted[1:] < stats.per_sample_accepted[0])


def test_hard_member_error_does_not_grow_with_the_batch():
    """The issue's target: the hard member's error independent of N within 2x."""
    errors = {}
    for per_sample in (False, True):
        for batch in (1, 100, 2000):
            rates = _decay_rates(batch)
            y0 = np.stack([np.ones(batch), np.zeros(batch)], axis=1)
            ys = odeint(_oscillator(rates), y0, [0.0, 5.0], rtol=1e-6, atol=1e-6,
                        per_sample=per_sample)
            errors[per_sample, batch] = float(np.abs(ys[-1, 0] - _exact(rates[:1], [5.0])
                                                     [0, 0]).max())
    assert errors[True, 2000] <= 2 * errors[True, 1]
    assert errors[True, 1] <= 2 * errors[True, 2000]
    assert errors[False, 2000] > 10 * errors[False, 1]  # the shared norm dilutes it


def test_torch_autograd_flows_through_per_sample_solves():
    rates = np.array([2.0, 0.5, 1.0])
    y0 = torch.tensor(np.stack([np.ones(3), np.zeros(3)], axis=1), requires_grad=True)
    ys = odeint(_oscillator(rates), y0, torch.tensor([0.0, 1.0], dtype=torch.float64),
                rtol=1e-10, atol=1e-10, per_sample=True)
    ys[-1, :, 0].sum().backward()
    # x(1) = x0 cos(ω) + v0 sin(ω)/ω  ->  ∂x(1)/∂x0 = cos ω, ∂x(1)/∂v0 = sin(ω)/ω
    np.testing.assert_allclose(y0.grad[:, 0].numpy(), np.cos(rates), atol=1e-7)
    np.testing.assert_allclose(y0.grad[:, 1].numpy(), np.sin(rates) / rates, atol=1e-7)


def test_time_arrives_per_sample_and_backwards_in_time():
    seen = []

    def f(t, y):
        seen.append(np.shape(t))
        return -y * (1.0 + t[:, None])

    y0 = np.ones((3, 1))
    ys = odeint(f, y0, [1.0, 0.0], rtol=1e-9, atol=1e-12, per_sample=True)
    # y' = -(1 + t) y from t = 1 back to 0: y(0) = exp(1 + 1/2)
    np.testing.assert_allclose(ys[-1, :, 0], np.exp(1.5), rtol=1e-7)
    assert set(seen) == {(3,)}


def test_shared_norm_is_the_default_and_per_sample_applies_to_pairs_only():
    y0 = np.ones((2, 1))
    with pytest.raises(ValueError, match="per_sample"):
        odeint(lambda t, y: -y, y0, [0.0, 1.0], method="rk4", step_size=0.1,
               per_sample=True)
    with pytest.raises(ValueError, match="True or False"):
        odeint(lambda t, y: -y, y0, [0.0, 1.0], per_sample="yes")
    with pytest.raises(ValueError, match="batch"):
        odeint(lambda t, y: -y, np.float64(1.0), [0.0, 1.0], per_sample=True)
    with pytest.raises(ValueError, match="shape"):
        odeint(lambda t, y: y[:1], y0, [0.0, 1.0], per_sample=True)
    with pytest.raises(ValueError, match="shape"):
        odeint(lambda t, y: None, y0, [0.0, 1.0], per_sample=True)


def test_max_steps_and_non_finite_are_reported():
    y0 = np.ones((2, 1))
    with pytest.raises(ODESolverError, match="max_steps"):
        odeint(lambda t, y: -y, y0, [0.0, 10.0], per_sample=True, max_steps=3)
    with pytest.raises(ODESolverError):
        odeint(lambda t, y: y * y, y0, [0.0, 2.0], per_sample=True)
