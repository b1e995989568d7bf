"""Implicit one-step methods (θ-method family, implicit midpoint) and Newton's method.

Every implicit step here, and every implicit multistep step, solves

.. math:: y = r + \\gamma h\\, f(t, y)

for ``y`` with a known right-hand side ``r``. :class:`NewtonSolver` does that with
Newton's method on ``G(y) = y - γh f(t, y) - r``, solving ``(I - γh J) δ = -G`` with
the Jacobian ``J = ∂f/∂y`` from (in this order of preference) the user's ``jac``,
autograd for torch states (``torch.func.jacrev``) or forward finite differences for
NumPy states. The Jacobian is evaluated once per step (at the predictor) and
re-evaluated only when the iteration contracts slowly or diverges (see
:class:`NewtonSolver` for the rules and the rate-based stopping test). It is treated as
a constant (no autograd graph), so gradients flow through the Newton iterations
themselves; at convergence they equal the implicit-function-theorem gradient up to
the Newton tolerance.

The predictor of a θ-method step is explicit Euler, ``y_n + h f(t_n, y_n)`` (for the
midpoint rule, half a step of it); ``bdf1`` and ``am1`` use the same one, so they give
the numbers of ``backward_euler``. :class:`ExtrapolatedEulerStepper` (backward Euler
extrapolated to order p) starts the implicit multistep methods.

References: Süli & Mayers, Sec. 12.6 (θ-method); Hairer & Wanner, *Solving ODEs II*,
Sec. IV.8 (Newton iterations for implicit methods) and IV.9 (extrapolation of the
implicit Euler method).
"""

from fractions import Fraction

from ._base import OdeMethod
from ._errors import NewtonConvergenceError
from ._fixed import solve_fixed_grid
from ._tableaus import ButcherTableau

__all__ = [
    "NewtonSolver",
    "ExtrapolatedEulerStepper",
    "ThetaMethod",
    "ImplicitMidpoint",
    "theta_tableau",
]

IMPLICIT_OPTIONS = frozenset({"step_size", "jac", "newton_tol", "max_newton_iters"})


class NewtonSolver:
    """Solves ``y = rhs + gamma_h * f(t, y)`` by Newton iterations.

    The Jacobian is evaluated at the starting guess and kept while the iteration
    contracts fast; it is re-evaluated at the current iterate when the contraction
    rate ``q_k = |δ_k| / |δ_{k-1}|`` exceeds ``SLOW_RATE`` (simplified Newton becomes
    full Newton where the problem is strongly nonlinear, e.g. in the initial layer of a
    stiff problem). A correction that grows (``q_k >= 1``) or is not finite while the
    Jacobian is out of date is *not* applied: the Jacobian is re-evaluated at the last
    iterate and the iteration retried from there, so a stale Jacobian cannot throw the
    iterate into the basin of another, non-physical root.

    Stopping test (Hairer & Wanner II, Sec. IV.8, as in their RADAU5 and in scipy's
    ``BDF``/``Radau``): the error left after iteration k is estimated by
    ``q_k/(1-q_k) |δ_k|`` (by ``|δ_k|`` while no rate is known); Newton stops when that
    estimate, or ``|δ_k|`` itself, is at most ``newton_tol * (1 + max|y|)`` (max norms).
    Far from the solution full Newton can converge only linearly (on a quadratic term
    it halves the distance per iteration), which is why the default budget,
    ``max_newton_iters=25``, is larger than the handful a good predictor needs: the
    first backward-Euler step of 0.1 on Robertson's reactions, from the
    Euler predictor through the initial layer, takes 13.
    """

    SLOW_RATE = 0.25

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
        fresh = True  # the Jacobian was evaluated at the current iterate
        previous = None
        correction = float("nan")
        iterations = 0
        while iterations < self.max_iters:
            iterations += 1
            residual = y - f_y * gamma_h - rhs
            delta = ops.linear_solve(matrix, -residual)
            stats.num_newton_iters += 1
            y_new = y + delta
            correction, size = ops.max_abs(delta, y_new)
            finite = correction == correction and correction < float("inf")
            rate = None if previous is None or not finite else correction / previous
            if not fresh and (not finite or (rate is not None and rate >= 1.0)):
                # diverging with an out-of-date Jacobian: refresh it here and retry
                matrix = ops.newton_matrix(self.jacobian(t, y, f_y), gamma_h)
                fresh, previous = True, None
                continue
            if not finite:
                break
            y = y_new
            bound = self.tol * (1.0 + size)
            if correction <= bound or (
                rate is not None and rate < 1.0 and rate / (1.0 - rate) * correction <= bound
            ):
                return y
            f_y = evaluator(t, y)
            fresh = False
            if rate is not None and rate > self.SLOW_RATE:
                matrix = ops.newton_matrix(self.jacobian(t, y, f_y), gamma_h)
                fresh = True
            previous = correction
        raise NewtonConvergenceError(
            f"Newton's method did not converge in the implicit step ending at t={t:.12g} "
            f"after {iterations} iterations (last correction {correction:.3g}). "
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


class ExtrapolatedEulerStepper:
    r"""Backward Euler extrapolated to order ``p``: the starter of the implicit multistep methods.

    One step of size ``h`` computes ``T_{j,1}``, backward Euler with ``j`` equal substeps
    of size ``h/j``, for ``j = 1, …, p`` (the harmonic sequence), and extrapolates them
    with the Aitken–Neville scheme for an error expansion in powers of ``h``,

    .. math:: T_{j,k+1} = T_{j,k} + \frac{T_{j,k} - T_{j-1,k}}{j/(j-k) - 1},

    returning ``T_{p,p}``, of order ``p`` (``p(p+1)/2`` backward-Euler solves). Its
    stability function vanishes at infinity (every ``T_{j,1}`` does), ``T_{1,1}`` and
    ``T_{2,2}`` are L-stable, ``T_{3,3}`` and ``T_{4,4}`` A(α)-stable with α = 89.85° and
    89.77°: a stiff transient in the starting steps is damped, as by the BDF steps that
    follow. For ``p = 1`` it *is* backward Euler, with the same predictor (explicit
    Euler) and the same numbers. Later substeps are predicted by linear extrapolation of
    the previous two substep values (no extra evaluation of ``f``).

    Source: the implicit-Euler extrapolation of Deuflhard (1985) and Hairer & Wanner,
    *Solving ODEs II*, Sec. IV.9 (SEULEX uses its linearly implicit variant).
    """

    def __init__(self, order, evaluator, ops, options, stats):
        self.order = order
        self.evaluator = evaluator
        self.newton = NewtonSolver(evaluator, ops, options, stats)

    def step(self, t, t_next, y, f_start):
        f = self.evaluator(t, y) if f_start is None else f_start
        h = t_next - t
        solve = self.newton.solve
        row = []  # row[k - 1] = T_{j-1,k}
        for j in range(1, self.order + 1):
            sub = h / j
            y_sub, before = y, None
            for i in range(1, j + 1):
                t_sub = t_next if i == j else t + i * sub
                guess = y_sub + f * sub if before is None else y_sub * 2.0 - before
                before, y_sub = y_sub, solve(t_sub, y_sub, sub, guess)
            new_row = [y_sub]
            for k in range(1, j):  # T_{j,k+1} from T_{j,k} and T_{j-1,k}
                new_row.append(new_row[k - 1] + (new_row[k - 1] - row[k - 1]) * ((j - k) / k))
            row = new_row
        return row[-1], f, None


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
