"""The rebuilt engine: fast kernels against the plain step, per-step error estimates, and
one regression test for each defect found with bad and unusual input (issue 12)."""

import math

import numpy as np
import pytest
import torch
from scipy.linalg import expm

from course_utils.adjoint import odeint_adjoint
from course_utils.ode import METHODS, TABLEAUS, ODESolverError, list_methods, odeint
from course_utils.ode._backend import get_backend
from course_utils.ode._steps import ExplicitRungeKutta

EXPLICIT = [name for name in TABLEAUS]


# ----------------------------------------------------------------------------- fast = plain
@pytest.mark.parametrize("name", EXPLICIT)
@pytest.mark.parametrize("library", ["numpy", "torch"])
def test_the_fast_kernels_compute_what_the_plain_step_computes(name, library):
    matrix = np.array([[-0.3, 1.2, 0.0], [-1.1, -0.2, 0.4], [0.0, -0.5, -0.1]])
    func = lambda t, y: (matrix @ y.T).T * (1 + 0.1 * float(t)) if library == "numpy" else \
        (y @ torch.as_tensor(matrix).T) * (1 + 0.1 * t)
    y = np.array([[1.0, -0.5, 0.25], [0.3, 0.2, -0.1]])
    if library == "torch":
        y = torch.tensor(y)
    y, backend = get_backend(y)
    evaluator = backend.evaluator(func)
    tableau = TABLEAUS[name]
    fast = ExplicitRungeKutta(tableau, evaluator, backend, fast=True)
    plain = ExplicitRungeKutta(tableau, evaluator, backend, fast=False)
    f = evaluator(0.3, y)
    a = fast.step(0.3, 0.05, 0.35, y, f)
    b = plain.step(0.3, 0.05, 0.35, y, f)
    if a.f_new is None:  # Hermite interpolation needs f at the end of the step
        a = a._replace(f_new=evaluator(0.35, a.y_new))
        b = b._replace(f_new=evaluator(0.35, b.y_new))
    as_np = lambda x: np.asarray(x.detach() if hasattr(x, "detach") else x)
    np.testing.assert_allclose(as_np(a.y_new), as_np(b.y_new), rtol=1e-14, atol=1e-15)
    if tableau.b_hat is not None:
        np.testing.assert_allclose(as_np(a.error), as_np(b.error), rtol=1e-10, atol=1e-16)
    for theta in (0.0, 0.37, 1.0):
        np.testing.assert_allclose(as_np(fast.interpolate(0.3, 0.05, y, a, theta)),
                                   as_np(plain.interpolate(0.3, 0.05, y, b, theta)),
                                   rtol=1e-14, atol=1e-15)


# ----------------------------------------------------------------------------- error estimates
# fehlberg2 (torchdiffeq's) propagates the order-2 solution of Fehlberg's RK1(2), whose
# order-1 companion was built with a tiny error constant (b = 1/256, 255/256, 0 is nearly
# the midpoint rule): the estimate is not a bound there, by the method's design.
@pytest.mark.parametrize("name", [m for m in list_methods("adaptive") if m != "fehlberg2"])
def test_the_error_estimate_bounds_the_true_local_error_on_every_step(name):
    """On y' = A y the exact flow of one step is expm(hA) y_n: compare each step's true
    local error with the tolerance the controller accepted it under."""
    matrix = np.array([[-0.5, 2.0], [-2.0, -0.5]])
    rtol = atol = 1e-6
    ys, stats = odeint(lambda t, y: matrix @ y, np.array([1.0, 0.5]), [0.0, 5.0],
                       method=name, rtol=rtol, atol=atol, return_stats=True)
    y = np.array([1.0, 0.5])
    ratios = []
    for h in stats.step_sizes:
        exact = expm(h * matrix) @ y
        taken = odeint(lambda t, v: matrix @ v, y, [0.0, h], method=name, first_step=h,
                       rtol=1e300, atol=1e300)[-1]
        scale = atol + rtol * np.maximum(np.abs(y), np.abs(taken))
        ratios.append(math.sqrt(np.mean(((taken - exact) / scale) ** 2)))
        y = taken
    # local extrapolation: the higher-order solution is far more accurate than estimated
    assert max(ratios) <= 1.0, max(ratios)


# ----------------------------------------------------------------------------- defects
def test_1_an_output_time_just_after_t0_keeps_the_later_outputs():
    ys = odeint(lambda t, y: -y, np.array([1.0]), [0.0, 1e-12, 1.0], method="rk4", step_size=0.1)
    assert ys.shape == (3, 1)
    assert abs(ys[1, 0] - 1.0) < 1e-11 and abs(ys[2, 0] - math.exp(-1)) < 1e-5


class _Decay(torch.nn.Module):
    def __init__(self, rate):
        super().__init__()
        self.rate = torch.nn.Parameter(torch.tensor(rate, dtype=torch.float64))

    def forward(self, t, y):
        return -self.rate * y


def _adjoint_gradients(method, rate, step):
    field = _Decay(rate)
    y0 = torch.tensor([1.0, 2.0], dtype=torch.float64, requires_grad=True)
    t = torch.tensor([0.0, 1.0], dtype=torch.float64)
    ys, stats = odeint_adjoint(field, y0, t, method=method, step_size=step, return_stats=True)
    ys[-1].sum().backward()
    return y0.grad, field.rate.grad, stats


@pytest.mark.parametrize("method", ["backward_euler", "bdf2", "am4"])
def test_2_implicit_methods_get_a_real_jacobian_in_the_adjoint_backward_pass(method):
    y0_grad, rate_grad, stats = _adjoint_gradients(method, 1.0, 0.05)
    exact = math.exp(-1.0)  # L = Σ y0 e^{-rate}: ∂L/∂y0 = e^{-1}, ∂L/∂rate = -3 e^{-1}
    assert torch.allclose(y0_grad, torch.full((2,), exact, dtype=torch.float64), rtol=0.1)
    assert abs(rate_grad.item() + 3 * exact) < 0.1 * 3 * exact
    # Newton with the true Jacobian of a linear field converges at once: ~1-2 iterations a
    # solve (fixed-point iteration, with an all-zero Jacobian, needed many more)
    assert stats.backward.njev > 0
    assert stats.backward.num_newton_iters <= 3 * stats.backward.njev


@pytest.mark.parametrize("method", ["backward_euler", "bdf2"])
def test_2_a_stiff_adjoint_backward_pass_with_an_implicit_method_converges(method):
    y0_grad, rate_grad, _ = _adjoint_gradients(method, 1000.0, 0.05)
    assert torch.isfinite(y0_grad).all() and y0_grad.abs().max() < 1e-2  # exact: e^{-1000}
    assert torch.isfinite(rate_grad) and abs(rate_grad.item()) < 1e-2


def test_3_complex_states_keep_their_imaginary_part_in_implicit_methods():
    lam = -2.0 + 3.0j
    exact = np.exp(lam * 1.0)
    for jac in (None, lambda t, y: np.array([[lam]])):
        ys = odeint(lambda t, y: lam * y, np.array([1.0 + 0j]), [0.0, 1.0], method="trapezoidal",
                    step_size=1e-3, jac=jac)
        assert abs(ys[-1, 0] - exact) < 1e-5, jac
    y0 = torch.tensor([1.0 + 0j], dtype=torch.complex128)
    ys = odeint(lambda t, y: lam * y, y0, [0.0, 1.0], method="trapezoidal", step_size=1e-3)
    assert abs(complex(ys[-1, 0]) - exact) < 1e-5


@pytest.mark.parametrize("dtype, bound", [(torch.bfloat16, 0.05), (torch.float16, 5e-3)])
def test_4_low_precision_states_give_a_right_answer_and_warn_about_rtol(dtype, bound):
    y0 = torch.tensor([1.0, 0.5], dtype=dtype)
    with pytest.warns(RuntimeWarning, match="below the resolution"):
        ys = odeint(lambda t, y: -y, y0, torch.tensor([0.0, 1.0]))
    assert ys.dtype == dtype
    error = (ys[-1].float() - torch.tensor([1.0, 0.5]) * math.exp(-1)).abs().max().item()
    assert error < bound


def test_5_a_func_that_returns_another_dtype_is_refused():
    y0 = torch.tensor([1.0], dtype=torch.float32)
    with pytest.raises(ValueError, match=r"returned dtype torch.float64.*float32"):
        odeint(lambda t, y: -y.double(), y0, torch.tensor([0.0, 1.0]))
    with pytest.raises(ValueError, match=r"returned dtype float64.*float32"):
        odeint(lambda t, y: -y.astype(np.float64), np.array([1.0], np.float32), [0.0, 1.0])


def test_6_a_very_stiff_torch_problem_is_detected_within_a_few_hundred_steps():
    mu = 1e6  # Van der Pol in the scaled form of the IVP test set

    def vdp(t, y):
        return torch.stack([y[1], ((1 - y[0] ** 2) * y[1] - y[0]) * mu])

    y0 = torch.tensor([2.0, -2.0 / 3.0], dtype=torch.float64)
    with pytest.raises(ODESolverError, match=r"became stiff.*'bdf2'") as info:
        odeint(vdp, y0, torch.tensor([0.0, 2.0], dtype=torch.float64))
    assert info.value.stats.num_steps < 1000


def test_7_misleading_messages_are_fixed():
    y0 = np.array([1.0])
    with pytest.raises(ValueError, match=r"got None \(does `func` end with a `return`"):
        odeint(lambda t, y: None, y0, [0.0, 1.0])
    nan_after = lambda t, y: -y if t < 0.3 else np.full_like(y, np.nan)
    with pytest.raises(ODESolverError, match=r"`func` returned NaN or inf at t=0\.4"):
        odeint(nan_after, y0, [0.0, 1.0], method="backward_euler", step_size=0.2)
    field = _Decay(1.0)
    y = torch.ones(1, dtype=torch.float64, requires_grad=True)
    t = torch.tensor([0.0, 1.0], dtype=torch.float64)
    for kwargs, match in [
        ({"adjoint_method": "rk5"}, r"Unknown `method` 'rk5'"),
        ({"adjoint_options": {"stepsize": 0.1}}, r"Unknown option `stepsize` in `adjoint_options`"),
        ({"adjoint_rtol": -1.0}, r"`adjoint_rtol` must be non-negative"),
        ({"adjoint_method": "rk4"}, r"needs `adjoint_step_size`"),
    ]:
        with pytest.raises(ValueError, match=match):
            odeint_adjoint(field, y, t, **kwargs)  # at the call, not at .backward()


def test_8_a_fixed_step_adjoint_takes_its_step_size_from_adjoint_options():
    field = _Decay(1.0)
    y0 = torch.ones(1, dtype=torch.float64, requires_grad=True)
    t = torch.tensor([0.0, 1.0], dtype=torch.float64)
    ys, stats = odeint_adjoint(field, y0, t, adjoint_method="bdf2",
                               adjoint_options={"step_size": 0.01}, return_stats=True)
    ys[-1].sum().backward()
    assert abs(y0.grad.item() - math.exp(-1)) < 1e-3
    assert stats.backward.njev > 0 and stats.backward.num_newton_iters > 0


def test_9_zero_tolerances_are_accepted_one_at_a_time():
    for rtol, atol in ((0.0, 1e-9), (1e-9, 0.0)):
        ys = odeint(lambda t, y: -y, np.array([2.0]), [0.0, 1.0], rtol=rtol, atol=atol)
        assert abs(ys[-1, 0] - 2 * math.exp(-1)) < 1e-7


def test_every_registered_method_is_listed_in_a_family():
    families = {name for family in ("explicit", "adaptive", "implicit", "multistep")
                for name in list_methods(family)}
    assert families == set(METHODS)
