"""torchdiffeq's interface on course_utils.ode: the same calls through both libraries.

Every test runs one call through torchdiffeq (0.2.5, skipped with a reason when it is
not installed) and through ours and compares the results, or compares ours with an
independent truth (closed forms, ``scipy.integrate.solve_ivp`` and its events, finite
differences) where torchdiffeq itself is wrong or silent. Issue 13.
"""

import math
import subprocess
import sys

import numpy as np
import pytest

torch = pytest.importorskip("torch")
torchdiffeq = pytest.importorskip(
    "torchdiffeq", reason="torchdiffeq is not installed: the comparison needs it"
)

from scipy.integrate import solve_ivp  # noqa: E402

from course_utils.adjoint import odeint_adjoint  # noqa: E402
from course_utils.ode import METHODS, ODESolverError, list_methods, odeint, odeint_event  # noqa: E402,E501

DTYPE = torch.float64


def T(values):
    return torch.tensor(values, dtype=DTYPE)


def pendulum(t, y):
    """A nonlinear, time-dependent field (the methods' differences show on it)."""
    return torch.stack([y[1], -torch.sin(y[0]) + 0.1 * t])


def pendulum_np(t, y):
    return np.array([y[1], -np.sin(y[0]) + 0.1 * t])


Y0 = T([1.0, 0.0])
TIMES = torch.linspace(0.0, 2.0, 11, dtype=DTYPE)


def truth(times=TIMES, y0=Y0):
    times = np.asarray(times)
    sol = solve_ivp(pendulum_np, (times[0], times[-1]), np.asarray(y0), t_eval=times,
                    method="DOP853", rtol=1e-13, atol=1e-13)
    return torch.as_tensor(sol.y.T)


def err(a, b):
    return (a - b).abs().max().item()


# ----------------------------------------------------------------------------- method names
FIXED_SAME = [("euler", "euler"), ("midpoint", "midpoint"), ("heun2", "heun2"),
              ("heun3", "heun3"), ("rk38", "rk4")]


@pytest.mark.parametrize("ours, theirs", FIXED_SAME)
def test_fixed_step_methods_give_torchdiffeqs_numbers(ours, theirs):
    options = {"step_size": 0.05}
    a = odeint(pendulum, Y0, TIMES, method=ours, options=options)
    b = torchdiffeq.odeint(pendulum, Y0, TIMES, method=theirs, options=options)
    assert err(a, b) < 1e-13


def test_rk4_means_the_classical_method_here_and_the_38_rule_in_torchdiffeq():
    """The documented difference of meaning: same order, different numbers."""
    ours = odeint(pendulum, Y0, TIMES, method="rk4", step_size=0.1)
    theirs = torchdiffeq.odeint(pendulum, Y0, TIMES, method="rk4", options={"step_size": 0.1})
    assert err(ours, theirs) > 1e-8
    assert err(odeint(pendulum, Y0, TIMES, method="rk38", step_size=0.1), theirs) < 1e-13
    assert "3/8" in METHODS["rk4"].__doc__ and "torchdiffeq" in METHODS["rk4"].__doc__
    assert "rk38" in odeint.__doc__ and "3/8 rule" in odeint.__doc__


@pytest.mark.parametrize("ours, theirs", FIXED_SAME + [("rk4", "rk4")])
def test_fixed_step_methods_without_step_size_step_on_t_itself(ours, theirs):
    t = T([0.0, 0.1, 0.25, 0.3, 0.7, 1.0])  # not uniform
    a, stats = odeint(pendulum, Y0, t, method=ours, return_stats=True)
    b = torchdiffeq.odeint(pendulum, Y0, t, method=theirs)
    assert stats.num_accepted == len(t) - 1
    assert np.allclose(stats.step_times, t[:-1].numpy())
    if ours != "rk4" or theirs != "rk4":
        assert err(a, b) < 1e-13


@pytest.mark.parametrize("name", ["dopri5", "bosh3", "fehlberg2", "adaptive_heun", "dopri8"])
def test_adaptive_methods_agree_with_torchdiffeq_within_their_tolerance(name):
    rtol = atol = 1e-8
    a, stats = odeint(pendulum, Y0, TIMES, method=name, rtol=rtol, atol=atol,
                      return_stats=True)
    b = torchdiffeq.odeint(pendulum, Y0, TIMES, method=name, rtol=rtol, atol=atol)
    exact = truth()
    bound = {"bosh3": 1e-6, "fehlberg2": 1e-5}.get(name, 1e-7)
    assert err(a, exact) < bound
    assert err(b, exact) < 100 * bound and err(a, b) < 100 * bound  # theirs: bosh3 1e-5
    assert stats.num_accepted > 0


@pytest.mark.parametrize("name", ["explicit_adams", "implicit_adams", "fixed_adams"])
def test_adams_names_are_accurate_where_torchdiffeqs_explicit_adams_is_not(name):
    a = odeint(pendulum, Y0, TIMES, method=name, options={"step_size": 0.01})
    assert err(a, truth()) < 1e-7
    b = torchdiffeq.odeint(pendulum, Y0, TIMES, method=name, options={"step_size": 0.01})
    if name == "explicit_adams":  # torchdiffeq 0.2.5 silently returns a wrong answer
        assert err(b, truth()) > 1e-2
    else:
        assert err(a, b) < 1e-7


@pytest.mark.parametrize("solver", ["RK45", "DOP853", "LSODA"])
def test_scipy_solver_wraps_solve_ivp_with_tensors_in_and_out(solver):
    kwargs = dict(method="scipy_solver", options={"solver": solver}, rtol=1e-9, atol=1e-9)
    a = odeint(pendulum, Y0, TIMES, **kwargs)
    b = torchdiffeq.odeint(pendulum, Y0, TIMES, **kwargs)
    assert torch.is_tensor(a) and a.dtype == DTYPE and a.shape == b.shape
    assert err(a, b) < (1e-6 if solver == "LSODA" else 1e-12)
    assert err(a, truth()) < 1e-6


def test_method_none_is_dopri5():
    assert err(odeint(pendulum, Y0, TIMES, method=None), odeint(pendulum, Y0, TIMES)) == 0


# ----------------------------------------------------------------------------- tuple states
class CNFLike(torch.nn.Module):
    """A CNF-like field on FFJORD's (z, logp): dz/dt = tanh(W z + b t), dlogp/dt = -tr."""

    def __init__(self, dim=3, seed=0):
        super().__init__()
        gen = torch.Generator().manual_seed(seed)
        self.W = torch.nn.Parameter(0.5 * torch.randn(dim, dim, generator=gen, dtype=DTYPE))
        self.b = torch.nn.Parameter(torch.randn(dim, generator=gen, dtype=DTYPE))

    def forward(self, t, state):
        z, logp = state
        pre = z @ self.W.T + self.b * t
        dz = torch.tanh(pre)
        trace = ((1 - torch.tanh(pre) ** 2) * torch.diagonal(self.W)).sum(-1, keepdim=True)
        return dz, -trace


def flat_version(field, dim):
    def flat(t, y):
        z, logp = y[:, :dim], y[:, dim:]
        dz, dlogp = field(t, (z, logp))
        return torch.cat([dz, dlogp], dim=1)
    return flat


def _kwargs(name):
    method = METHODS[name]
    if method.adaptive:
        return {"rtol": 1e-8, "atol": 1e-8}
    kwargs = {"step_size": 0.1}
    if name == "theta":
        kwargs["theta"] = 0.4
    return kwargs


@pytest.mark.parametrize("name", list_methods())
def test_a_tuple_state_gives_the_numbers_of_the_flat_state_through_every_method(name):
    field = CNFLike()
    z0 = torch.randn(4, 3, generator=torch.Generator().manual_seed(1), dtype=DTYPE)
    logp0 = torch.zeros(4, 1, dtype=DTYPE)
    t = T([0.0, 0.5, 1.0])
    (zs, logps), stats = odeint(field, (z0, logp0), t, method=name, return_stats=True,
                                **_kwargs(name))
    flat, flat_stats = odeint(flat_version(field, 3), torch.cat([z0, logp0], 1), t,
                              method=name, return_stats=True, **_kwargs(name))
    assert zs.shape == (3, 4, 3) and logps.shape == (3, 4, 1)
    # the same steps (RMS over the same numbers), the same evaluations
    assert flat_stats.nfe == stats.nfe and flat_stats.num_accepted == stats.num_accepted
    assert err(zs, flat[:, :, :3]) < 1e-10 and err(logps, flat[:, :, 3:]) < 1e-10


def test_a_tuple_state_matches_torchdiffeq_with_gradients():
    field = CNFLike()
    z0 = torch.randn(4, 3, generator=torch.Generator().manual_seed(2), dtype=DTYPE)
    logp0 = torch.zeros(4, 1, dtype=DTYPE)
    t = T([0.0, 1.0])
    grads = []
    for solve in (odeint, torchdiffeq.odeint):
        field.zero_grad()
        zs, logps = solve(field, (z0, logp0), t, rtol=1e-9, atol=1e-9)
        (zs[-1].pow(2).sum() + logps[-1].sum()).backward()
        grads.append((zs.detach(), logps.detach(), field.W.grad.clone()))
    (za, la, ga), (zb, lb, gb) = grads
    assert err(za, zb) < 1e-7 and err(la, lb) < 1e-7 and err(ga, gb) < 1e-6


def test_a_tuple_state_through_the_adjoint_matches_torchdiffeqs_adjoint():
    field = CNFLike(seed=3)
    z0 = torch.randn(2, 3, generator=torch.Generator().manual_seed(4), dtype=DTYPE)
    logp0 = torch.zeros(2, 1, dtype=DTYPE)
    t = T([0.0, 0.6, 1.0])
    grads = []
    for solve in (odeint_adjoint, torchdiffeq.odeint_adjoint):
        field.zero_grad()
        zs, logps = solve(field, (z0, logp0), t, rtol=1e-9, atol=1e-9)
        (zs.pow(2).sum() + logps.sum()).backward()
        grads.append((field.W.grad.clone(), field.b.grad.clone()))
    assert err(grads[0][0], grads[1][0]) < 1e-6 and err(grads[0][1], grads[1][1]) < 1e-6


def test_per_part_tolerances_and_clear_errors_for_tuple_states():
    field = CNFLike()
    state = (torch.ones(2, 3, dtype=DTYPE), torch.zeros(2, 1, dtype=DTYPE))
    loose = odeint(field, state, T([0.0, 1.0]), rtol=(1e-3, 1e-3), atol=T([1e-3, 1e-3]))
    assert loose[0].shape == (2, 2, 3)
    with pytest.raises(ValueError, match=r"part 1 with shape \(2,\)"):
        odeint(lambda t, s: (s[0], s[1][:, 0]), state, T([0.0, 1.0]))
    with pytest.raises(ValueError, match="tuple of 2"):
        odeint(lambda t, s: s[0], state, T([0.0, 1.0]))
    with pytest.raises(ValueError, match="share one dtype"):
        odeint(field, (state[0], state[1].float()), T([0.0, 1.0]))


def test_numpy_tuple_states_work_too():
    ys = odeint(lambda t, s: (-s[0], -2 * s[1]), (np.ones(2), np.ones((1, 1))), [0.0, 1.0])
    assert abs(ys[0][-1, 0] - math.exp(-1)) < 1e-7 and abs(ys[1][-1, 0, 0] - math.exp(-2)) < 1e-7


# ----------------------------------------------------------------------------- options
def test_options_dict_and_max_num_steps():
    with pytest.raises(ODESolverError, match="max_steps"):
        odeint(pendulum, Y0, TIMES, options={"max_num_steps": 3})
    a = odeint(pendulum, Y0, TIMES, options={"first_step": 1e-3, "dtype": torch.float64})
    assert err(a, truth()) < 1e-6


def test_safety_ifactor_dfactor_change_the_steps():
    _, base = odeint(pendulum, Y0, TIMES, return_stats=True)
    _, careful = odeint(pendulum, Y0, TIMES, return_stats=True,
                        options={"safety": 0.5, "ifactor": 1.5, "dfactor": 0.5})
    assert careful.num_accepted > base.num_accepted
    growth = [b / a for a, b in zip(careful.step_sizes[1:-1], careful.step_sizes[2:-1])]
    assert max(growth) <= 1.5 + 1e-12


def test_a_norm_callable_gets_the_tuple_and_is_used_as_in_torchdiffeq():
    seen = []

    def max_norm(x):
        seen.append(type(x))
        return max(part.abs().max() for part in x)

    field = CNFLike()
    state = (torch.ones(2, 3, dtype=DTYPE), torch.zeros(2, 1, dtype=DTYPE))
    t = T([0.0, 1.0])
    a = odeint(field, state, t, options={"norm": max_norm}, rtol=1e-8, atol=1e-8)
    b = torchdiffeq.odeint(field, state, t, options={"norm": max_norm}, rtol=1e-8, atol=1e-8)
    assert seen and all(kind is tuple for kind in seen)
    assert err(a[0], b[0]) < 1e-7


def test_jump_t_lands_on_a_discontinuity_and_recovers_the_exact_answer():
    """y' = 1 before t = 1 and 3 after: y(2) = 4 exactly, for a piecewise-linear y."""
    field = lambda t, y: torch.where(t < 1.0, 1.0, 3.0) * torch.ones_like(y)
    y0, t = T([0.0]), T([0.0, 2.0])
    ys, stats = odeint(field, y0, t, options={"jump_t": T([1.0])}, return_stats=True)
    theirs = torchdiffeq.odeint(field, y0, t, options={"jump_t": T([1.0])})
    assert abs(ys[-1].item() - 4.0) < 1e-12 and abs(theirs[-1].item() - 4.0) < 1e-12
    assert any(abs(a + h - 1.0) < 1e-15 for a, h in zip(stats.step_times, stats.step_sizes))
    _, without = odeint(field, y0, t, return_stats=True)
    assert stats.nfe < without.nfe


def test_step_t_forces_step_boundaries():
    _, stats = odeint(pendulum, Y0, TIMES, options={"step_t": [0.33, 1.57]},
                      return_stats=True)
    ends = [a + h for a, h in zip(stats.step_times, stats.step_sizes)]
    assert any(abs(e - 0.33) < 1e-15 for e in ends) and any(abs(e - 1.57) < 1e-15 for e in ends)


def test_min_and_max_step():
    _, stats = odeint(pendulum, Y0, TIMES, options={"max_step": 0.05}, return_stats=True)
    assert max(abs(h) for h in stats.step_sizes) <= 0.05 + 1e-15
    _, stats = odeint(pendulum, Y0, TIMES, rtol=1e-12, atol=1e-12,
                      options={"min_step": 0.1}, return_stats=True)
    assert min(abs(h) for h in stats.step_sizes[:-1]) >= 0.1 - 1e-15


def test_grid_constructor_perturb_and_linear_interp_give_torchdiffeqs_numbers():
    grid = lambda func, y0, t: torch.linspace(float(t[0]), float(t[-1]), 8, dtype=DTYPE)
    t = T([0.0, 0.3, 1.0])
    for options in ({"grid_constructor": grid, "interp": "linear"},
                    {"grid_constructor": grid, "interp": "cubic"},
                    {"step_size": 0.1, "perturb": True, "interp": "linear"}):
        a = odeint(pendulum, Y0, t, method="midpoint", options=options)
        b = torchdiffeq.odeint(pendulum, Y0, t, method="midpoint", options=options)
        assert err(a, b) < 1e-13
    # perturb: a func discontinuous at the grid times sees each side where it should
    jump = lambda t, y: torch.where(t < 0.5, 1.0, 3.0) * torch.ones_like(y)
    a = odeint(jump, T([0.0]), T([0.0, 1.0]), method="euler",
               options={"step_size": 0.5, "perturb": True})
    assert abs(a[-1].item() - 2.0) < 1e-12


# ----------------------------------------------------------------------------- t-gradients
def linear(t, y):
    A = T([[-0.3, 1.0], [-1.0, -0.2]])
    return A @ y + torch.sin(t)


def test_gradients_with_respect_to_t_match_torchdiffeq_and_finite_differences():
    y0 = T([1.0, 2.0])
    grads = []
    for solve in (odeint, torchdiffeq.odeint):
        t = T([0.2, 0.7, 1.3]).requires_grad_(True)
        ys = solve(linear, y0, t, rtol=1e-11, atol=1e-11)
        (ys ** 2).sum().backward()
        grads.append(t.grad.clone())
    assert torch.allclose(grads[0], grads[1], atol=1e-6)
    base = T([0.2, 0.7, 1.3])
    loss = lambda times: (odeint(linear, y0, times, rtol=1e-12, atol=1e-12) ** 2).sum().item()
    for i in range(3):
        e = torch.zeros(3, dtype=DTYPE)
        e[i] = 1e-5
        fd = (loss(base + e) - loss(base - e)) / 2e-5
        assert abs(fd - grads[0][i].item()) < 1e-5 * max(1.0, abs(fd))


def test_t_gradients_for_a_fixed_step_method_and_a_tuple_state():
    t = T([0.0, 0.5, 1.0]).requires_grad_(True)
    state = (T([1.0]), T([[2.0]]))
    a, b = odeint(lambda t, s: (-s[0], -s[1] * t), state, t, method="rk4", step_size=0.01)
    (a.sum() + b.sum()).backward()
    # dL/dt_i = f(t_i, y_i) summed; dL/dt_0 = -(sum over later outputs of Φ f(t_0, y_0))
    expected_last = -math.exp(-1) + (-1.0 * 2 * math.exp(-0.5))
    assert abs(t.grad[-1].item() - expected_last) < 1e-6


# ----------------------------------------------------------------------------- events
def ball(t, y):
    return torch.stack([y[1], torch.full_like(y[1], -9.81)])


def floor(t, y):
    return y[0]


def test_an_event_matches_torchdiffeq_and_the_closed_form():
    y0 = T([2.0, 0.0])
    ours_t, ours = odeint(ball, y0, T([0.0, 1.0]), event_fn=floor)
    theirs_t, theirs = torchdiffeq.odeint(ball, y0, T([0.0, 1.0]), event_fn=floor)
    exact = math.sqrt(2 * 2.0 / 9.81)
    assert abs(ours_t.item() - exact) < 1e-12  # located on the dense output to ulps
    assert abs(theirs_t.item() - exact) < 1e-7  # bisection to atol
    assert ours.shape == theirs.shape == (2, 2) and abs(ours[-1, 0].item()) < 1e-12


@pytest.mark.parametrize("name", ["dopri5", "bosh3", "rk4", "euler"])
def test_events_against_solve_ivp_on_known_event_times(name):
    """y'' = -y from (1, 0): y = cos t crosses zero at π/2 + kπ, going down at even k."""
    osc = lambda t, y: np.array([y[1], -y[0]])
    down = lambda t, y: y[0]
    down.direction = -1.0
    up = lambda t, y: y[0]
    up.direction, up.terminal = 1.0, True
    events = [down, up]
    times = np.linspace(0.0, 10.0, 6)
    kwargs = {"rtol": 1e-10, "atol": 1e-10} if METHODS[name].adaptive else {"step_size": 1e-3}
    event_t, ys, stats = odeint(osc, np.array([1.0, 0.0]), times, event_fn=events,
                                method=name, return_stats=True, **kwargs)
    sol = solve_ivp(osc, (0.0, 10.0), [1.0, 0.0], events=events, rtol=1e-12, atol=1e-12)
    bound = 1e-8 if METHODS[name].adaptive else (1e-2 if name == "euler" else 1e-9)
    assert abs(event_t - 1.5 * math.pi) < bound and abs(sol.t_events[1][0] - event_t) < bound
    assert [j for _, j in stats.events] == [0, 1] and stats.num_events == 2
    assert abs(stats.events[0][0] - sol.t_events[0][0]) < bound
    assert ys.shape == (3 + 1, 2)  # t = 0, 2, 4 before the event, then the event state


def test_non_terminal_events_are_recorded_and_the_solve_goes_on():
    osc = lambda t, y: np.array([y[1], -y[0]])
    crossing = lambda t, y: y[0]
    crossing.terminal = False
    event_t, ys, stats = odeint(osc, np.array([1.0, 0.0]), [0.0, 10.0], event_fn=[crossing],
                                return_stats=True)
    assert event_t is None and ys.shape == (2, 2)
    expected = [math.pi / 2 + k * math.pi for k in range(3)]
    assert np.allclose([t for t, _ in stats.events], expected, atol=1e-7)


def test_odeint_event_gives_the_implicit_function_theorem_gradient():
    """Drop from height h: τ = sqrt(2h/g), dτ/dh = 1/sqrt(2gh); as torchdiffeq's."""
    results = []
    for event, solve in ((odeint_event, odeint), (torchdiffeq.odeint_event, torchdiffeq.odeint)):
        h = T(2.0).requires_grad_(True)
        y0 = torch.stack([h, T(0.0)])
        event_t, sol = event(ball, y0, T(0.0), event_fn=floor, odeint_interface=solve,
                             rtol=1e-10, atol=1e-10)
        event_t.backward()
        results.append((event_t.item(), h.grad.item()))
    exact = 1 / math.sqrt(2 * 9.81 * 2.0)
    assert abs(results[0][1] - exact) < 1e-8
    assert abs(results[0][1] - results[1][1]) < 1e-6
    assert abs(results[0][0] - results[1][0]) < 1e-7


def test_odeint_adjoint_with_event_fn_differentiates_through_the_event_time():
    """Ours equals torchdiffeq's odeint_event over its odeint_adjoint and finite
    differences; torchdiffeq's own odeint_adjoint(event_fn=...) leaves out dτ/dk."""

    class Drag(torch.nn.Module):
        def __init__(self, k=0.3):
            super().__init__()
            self.k = torch.nn.Parameter(T(k))

        def forward(self, t, y):
            return torch.stack([y[1], -9.81 - self.k * y[1]])

    def ours(k):
        field = Drag(k)
        event_t, sol = odeint_adjoint(field, T([2.0, 0.0]), T([0.0, 1.0]), event_fn=floor,
                                      rtol=1e-11, atol=1e-11)
        loss = event_t + sol[-1, 1]
        loss.backward()
        return loss.item(), field.k.grad.item()

    field = Drag()
    event_t, sol = torchdiffeq.odeint_event(field, T([2.0, 0.0]), T(0.0), event_fn=floor,
                                            odeint_interface=torchdiffeq.odeint_adjoint,
                                            rtol=1e-11, atol=1e-11)
    (event_t + sol[-1, 1]).backward()
    fd = (ours(0.3 + 1e-5)[0] - ours(0.3 - 1e-5)[0]) / 2e-5
    assert abs(ours(0.3)[1] - fd) < 1e-6 and abs(ours(0.3)[1] - field.k.grad.item()) < 1e-6


# ----------------------------------------------------------------------------- callbacks
def test_step_callbacks_are_called_as_torchdiffeq_calls_them():
    class Field(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.calls = {"step": 0, "accept": 0, "reject": 0}

        def forward(self, t, y):
            return -50 * (y - torch.cos(t))

        def callback_step(self, t0, y0, dt):
            assert torch.is_tensor(t0) and torch.is_tensor(dt)
            self.calls["step"] += 1

        def callback_accept_step(self, t0, y0, dt):
            self.calls["accept"] += 1

        def callback_reject_step(self, t0, y0, dt):
            self.calls["reject"] += 1

    field = Field()
    _, stats = odeint(field, T([0.0]), T([0.0, 1.0]), return_stats=True, first_step=0.5)
    assert field.calls == {"step": stats.num_steps, "accept": stats.num_accepted,
                           "reject": stats.num_rejected}
    assert stats.num_rejected > 0


# ----------------------------------------------------------------------------- adjoint
def test_odeint_adjoint_takes_a_plain_function_with_adjoint_params_and_tensor_tolerances():
    A = T([[-0.3, 1.0], [-1.0, -0.2]]).requires_grad_(True)
    frozen = T([0.5]).requires_grad_(False)
    f = lambda t, y: A @ y + frozen
    y0 = T([1.0, 0.5])
    t = T([0.0, 1.0])
    grads = []
    for solve in (odeint_adjoint, torchdiffeq.odeint_adjoint):
        A.grad = None
        ys = solve(f, y0, t, adjoint_params=(A, frozen), rtol=1e-10, atol=1e-10,
                   adjoint_rtol=T(1e-10), adjoint_atol=T(1e-10))
        ys[-1].sum().backward()
        grads.append(A.grad.clone())
    assert err(grads[0], grads[1]) < 1e-7 and frozen.grad is None
    ours, stats = odeint_adjoint(f, y0, t, adjoint_params=(A,), return_stats=True,
                                 adjoint_options={"norm": "seminorm"})
    ours[-1].sum().backward()
    assert stats.backward.nfe > 0


# ----------------------------------------------------------------------------- clear errors
def test_what_torchdiffeq_accepts_silently_is_an_error_here():
    with pytest.raises(ValueError, match="rtol"):
        odeint(pendulum, Y0, TIMES, rtol=-1e-6)
    with pytest.raises(ValueError, match="shape"):
        odeint(lambda t, y: torch.ones(1, dtype=DTYPE), Y0, TIMES)  # broadcast there
    torchdiffeq.odeint(pendulum, Y0, TIMES, rtol=-1e-6)  # no error there
    with pytest.raises(ValueError, match="does not apply"):
        odeint(pendulum, Y0, TIMES, options={"perturb": True})  # adaptive: no perturb
    with pytest.raises(ValueError, match="seminorm"):
        odeint(pendulum, Y0, TIMES, options={"norm": "seminorm"})


def test_importing_the_engine_never_imports_torch():
    code = ("import sys, course_utils, course_utils.ode; "
            "from course_utils.ode import odeint_event; "
            "assert 'torch' not in sys.modules, 'torch imported'; "
            "assert 'scipy.integrate' not in sys.modules, 'scipy imported (dopri8?)'")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_per_part_tolerances_of_a_tuple_state_reach_the_adjoint():
    field = CNFLike(seed=5)
    state = (torch.ones(2, 3, dtype=DTYPE), torch.zeros(2, 1, dtype=DTYPE))
    zs, logps = odeint_adjoint(field, state, T([0.0, 1.0]), rtol=(1e-8, 1e-6),
                               atol=T([1e-8, 1e-6]))
    (zs.sum() + logps.sum()).backward()
    assert field.W.grad is not None and torch.isfinite(field.W.grad).all()
