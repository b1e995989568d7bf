"""Implicit one-step methods (θ-method family, implicit midpoint) and Newton's method.

Every implicit step here, and every implicit multistep step, solves

.. math:: y = r + \\gamma h\\, f(t, y)

for ``y`` with a known right-hand side ``r``. :class:`NewtonSolver` does that with
Newton's method on ``G(y) = y - γh f(t, y) - r``, solving ``(I - γh J) δ = -G`` with
the Jacobian ``J = ∂f/∂y`` from (in this order of preference) the user's ``jac``,
autograd for torch states (``torch.func.jacrev``) or forward finite differences for
NumPy states. The Jacobian is evaluated once per step and refreshed only when the
iteration converges slowly. It is treated as a constant (no autograd graph), so
gradients flow through the Newton iterations themselves; at convergence they equal
the implicit-function-theorem gradient up to the Newton tolerance.

References: Süli & Mayers, Sec. 12.6 (θ-method); Hairer & Wanner, *Solving ODEs II*,
Sec. IV.8 (Newton iterations for implicit methods).
"""

from fractions import Fraction

from ._base import OdeMethod
from ._errors import NewtonConvergenceError
from ._fixed import solve_fixed_grid
from ._tableaus import ButcherTableau

__all__ = ["NewtonSolver", "ThetaMethod", "ImplicitMidpoint", "theta_tableau"]

IMPLICIT_OPTIONS = frozenset({"step_size", "jac", "newton_tol", "max_newton_iters"})


class NewtonSolver:
    """Solves ``y = rhs + gamma_h * f(t, y)`` by (simplified) Newton iterations."""

    def __init__(self, evaluator, ops, options, stats):
        self.evaluator = evaluator
        self.ops = ops
        self.stats = stats
        self.user_jac = options.jac
        self.tol = max(options.newton_tol, 100.0 * ops.eps)
        self.max_iters = options.max_newton_iters

    def jacobian(self, t, y, f_y):
        """``∂f/∂y`` at ``(t, y)`` as an ``(n, n)`` matrix (no autograd graph)."""
        ops, evaluator = self.ops, self.evaluator
        self.stats.njev += 1
        if self.user_jac is not None:
            return ops.user_jacobian(self.user_jac, evaluator.time(t), ops.detach(y))
        if ops.name == "torch":
            evaluator.nfe += 1  # jacrev calls func once (vectorised)
            return ops.autograd_jacobian(evaluator.func, evaluator.time(t), y)
        return ops.finite_difference_jacobian(evaluator, t, y, f_y)

    def solve(self, t, rhs, gamma_h, guess):
        """Return ``y`` with ``y = rhs + gamma_h f(t, y)``, starting from ``guess``."""
        ops, evaluator, stats = self.ops, self.evaluator, self.stats
        y = guess
        f_y = evaluator(t, y)
        matrix = ops.newton_matrix(self.jacobian(t, y, f_y), gamma_h)
        previous = None
        correction = float("nan")
        for _ in range(self.max_iters):
            residual = y - f_y * gamma_h - rhs
            delta = ops.linear_solve(matrix, -residual)
            y = y + delta
            stats.num_newton_iters += 1
            correction, size = ops.max_abs(delta, y)
            if not (correction == correction and correction < float("inf")):
                break
            if correction <= self.tol * (1.0 + size):
                return y
            f_y = evaluator(t, y)
            if previous is not None and correction > 0.5 * previous:
                matrix = ops.newton_matrix(self.jacobian(t, y, f_y), gamma_h)
            previous = correction
        raise NewtonConvergenceError(
            f"Newton's method did not converge in the implicit step ending at t={t:.12g} "
            f"after {self.max_iters} iterations (last correction {correction:.3g}). "
            "Try a smaller `step_size` (or a larger `max_newton_iters`)."
        )


class _ThetaStepper:
    def __init__(self, theta, evaluator, ops, options, stats):
        self.theta = theta
        self.evaluator = evaluator
        self.newton = NewtonSolver(evaluator, ops, options, stats)

    def step(self, t, t_next, y, f_start):
        h = t_next - t
        f = self.evaluator(t, y) if f_start is None else f_start
        theta = self.theta
        if theta == 1.0:
            return y + f * h, f, None
        rhs = y if theta == 0.0 else y + f * (h * theta)
        y_next = self.newton.solve(t_next, rhs, h * (1.0 - theta), y + f * h)
        return y_next, f, None


class _MidpointStepper:
    def __init__(self, evaluator, ops, options, stats):
        self.evaluator = evaluator
        self.newton = NewtonSolver(evaluator, ops, options, stats)

    def step(self, t, t_next, y, f_start):
        h = t_next - t
        f = self.evaluator(t, y) if f_start is None else f_start
        half = 0.5 * h
        stage = self.newton.solve(t + half, y, half, y + f * half)
        return stage * 2.0 - y, f, None


def theta_tableau(theta):
    """The θ-method as a two-stage Runge–Kutta tableau (for stability analysis).

    ``c = (0, 1)``, ``a = [[0, 0], [θ, 1-θ]]``, ``b = (θ, 1-θ)``; its stability function
    is ``(1 + θz) / (1 - (1-θ)z)``. Notebook ``01_one_step_methods`` ("Stiffness").

    Parameters
    ----------
    theta : float
        θ in [0, 1].

    Returns
    -------
    ButcherTableau
    """
    theta = float(theta)
    return ButcherTableau(
        [[0.0, 0.0], [theta, 1.0 - theta]],
        [theta, 1.0 - theta],
        [0.0, 1.0],
        order=2 if theta == 0.5 else 1,
        name=f"theta={theta:g}",
        explicit=theta == 1.0,
        reference="Süli & Mayers, Sec. 12.6",
    )


class ThetaMethod(OdeMethod):
    r"""The θ-method :math:`y_{n+1} = y_n + h(\theta f(t_n, y_n) + (1-\theta) f(t_{n+1}, y_{n+1}))`.

    Convention: θ = 1 is explicit Euler, θ = 0 backward Euler, θ = ½ the trapezoidal
    rule. Order 2 for θ = ½, order 1 otherwise; A-stable for θ ≤ ½.
    Introduced in notebook ``01_one_step_methods`` ("Implicit methods and stiffness").

    Parameters
    ----------
    theta : float or None
        A fixed θ in [0, 1], or None for the generic ``'theta'`` entry, which reads
        ``theta=`` from ``odeint``'s keywords.
    name : str
        Registry name.
    """

    adaptive = False
    implicit = True
    family = "implicit one-step"

    def __init__(self, theta=None, name="theta", doc=None):
        self.theta = theta
        self.name = name
        self.order = 2 if theta == 0.5 else 1
        self.options = IMPLICIT_OPTIONS | ({"theta"} if theta is None else set())
        if theta is not None:
            self.tableau = theta_tableau(theta)
        if doc:
            self.__doc__ = doc

    def order_for(self, theta):
        """Order of the θ-method for a given θ (2 at ½, else 1)."""
        return 2 if theta == 0.5 else 1

    def make_stepper(self, evaluator, ops, options, stats, step):
        theta = self.theta if self.theta is not None else options.theta
        if theta is None:
            raise ValueError("method='theta' needs `theta=` (a number in [0, 1]).")
        return _ThetaStepper(float(theta), evaluator, ops, options, stats)

    def solve(self, evaluator, ops, y0, times, options, stats):
        return solve_fixed_grid(self, evaluator, ops, y0, times, options, stats)


class ImplicitMidpoint(OdeMethod):
    r"""Implicit midpoint rule :math:`y_{n+1} = y_n + h f(t_n + h/2, (y_n + y_{n+1})/2)`.

    The one-stage Gauss–Legendre method: order 2, A-stable, symplectic (it preserves
    quadratic invariants such as the energy of a linear oscillator).
    Source: Hairer, Lubich & Wanner, *Geometric Numerical Integration*, Sec. II.1;
    Butcher, Sec. 34. Introduced in notebook ``01_one_step_methods``.
    """

    name = "implicit_midpoint"
    order = 2
    adaptive = False
    implicit = True
    family = "implicit one-step"
    options = IMPLICIT_OPTIONS

    def __init__(self):
        half = float(Fraction(1, 2))
        self.tableau = ButcherTableau(
            [[half]],
            [1.0],
            [half],
            order=2,
            name="implicit_midpoint",
            explicit=False,
            reference="Gauss–Legendre, s = 1",
        )

    def make_stepper(self, evaluator, ops, options, stats, step):
        return _MidpointStepper(evaluator, ops, options, stats)

    def solve(self, evaluator, ops, y0, times, options, stats):
        return solve_fixed_grid(self, evaluator, ops, y0, times, options, stats)
