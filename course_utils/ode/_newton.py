"""Newton's method for the implicit equations of implicit steps.

Every implicit stage, and every implicit multistep step, solves

.. math:: y = r + \\gamma h\\, f(t, y)

for ``y`` with a known right-hand side ``r``. :class:`NewtonSolver` does that on
``G(y) = y - γh f(t, y) - r``, solving ``(I - γh J) δ = -G`` with the Jacobian
``J = ∂f/∂y`` from (in this order of preference) the user's ``jac``, autograd for torch
states or forward finite differences for NumPy states (the backend computes it). The
Jacobian is treated as a constant (no autograd graph), so gradients flow through the
Newton iterations themselves; at convergence they equal the implicit-function-theorem
gradient up to the Newton tolerance.

Reference: Hairer & Wanner, *Solving ODEs II*, Sec. IV.8.
"""

from ._errors import NewtonConvergenceError, ODESolverError

__all__ = ["NewtonSolver"]


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

    def __init__(self, evaluator, backend, options, stats):
        self.evaluator = evaluator
        self.backend = backend
        self.stats = stats
        self.user_jac = options.jac
        self.tol = max(options.newton_tol, 100.0 * backend.eps)
        self.max_iters = options.max_newton_iters

    def jacobian(self, t, y, f_y):
        """``∂f/∂y`` at ``(t, y)`` as an ``(n, n)`` matrix (no autograd graph)."""
        self.stats.njev += 1
        if self.user_jac is not None:
            return self.backend.user_jacobian(
                self.user_jac, self.evaluator.func_time(t), self.backend.detach(y)
            )
        return self.backend.jacobian(self.evaluator, t, y, f_y)

    def solve(self, t, rhs, gamma_h, guess):
        """Return ``y`` with ``y = rhs + gamma_h f(t, y)``, starting from ``guess``."""
        backend, evaluator, stats = self.backend, self.evaluator, self.stats
        y = guess
        f_y = evaluator(t, y)
        matrix = backend.newton_matrix(self.jacobian(t, y, f_y), gamma_h)
        fresh = True  # the Jacobian was evaluated at the current iterate
        previous = None
        correction = float("nan")
        iterations = 0
        while iterations < self.max_iters:
            iterations += 1
            residual = y - f_y * gamma_h - rhs
            delta = backend.linear_solve(matrix, -residual)
            stats.num_newton_iters += 1
            y_new = y + delta
            correction = backend.max_abs(delta)
            finite = correction == correction and correction < float("inf")
            rate = None if previous is None or not finite else correction / previous
            if not fresh and (not finite or (rate is not None and rate >= 1.0)):
                # diverging with an out-of-date Jacobian: refresh it here and retry
                matrix = backend.newton_matrix(self.jacobian(t, y, f_y), gamma_h)
                fresh, previous = True, None
                continue
            if not finite:
                break
            y = y_new
            bound = self.tol * (1.0 + backend.max_abs(y))
            if correction <= bound or (
                rate is not None and rate < 1.0 and rate / (1.0 - rate) * correction <= bound
            ):
                return y
            f_y = evaluator(t, y)
            fresh = False
            if rate is not None and rate > self.SLOW_RATE:
                matrix = backend.newton_matrix(self.jacobian(t, y, f_y), gamma_h)
                fresh = True
            previous = correction
        if not backend.all_finite(f_y):
            raise ODESolverError(
                f"`func` returned NaN or inf at t={t:.12g} while solving an implicit step: "
                "check `func` for a division by zero, a log or sqrt of a negative number, "
                "or an overflow at the states the solver tries there.",
                t=float(t),
                stats=stats,
            )
        raise NewtonConvergenceError(
            f"Newton's method did not converge in the implicit step ending at t={t:.12g} "
            f"after {iterations} iterations (last correction {correction:.3g}). "
            "Try a smaller `step_size` (or a larger `max_newton_iters`).",
            t=float(t),
            stats=stats,
        )
