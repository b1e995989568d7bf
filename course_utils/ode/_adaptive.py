"""Adaptive embedded Runge–Kutta pairs: error estimate, PI controller, dense output.

The pieces are separate (as in diffrax): the *stepper* takes one trial step and
returns the new state and the scaled error of the embedded estimate; the
*controller* accepts or rejects it and proposes the next step size; the *dense
output* interpolates to output times inside an accepted step. Steps are never
shortened to hit output times, except the last one, which lands exactly on ``t[-1]``.

References: Hairer, Nørsett & Wanner, *Solving ODEs I*, Sec. II.4 (error estimate,
standard step-size selection, initial step) and II.6 (dense output); Hairer & Wanner,
*Solving ODEs II*, Sec. IV.2 (the PI controller, "Lund stabilisation" of the step-size
control, as in the DOPRI5 code; HNW I has no Part IV); Gustafsson, Lundh & Söderlind,
BIT 28 (1988); Gustafsson, ACM TOMS 17 (1991).
"""

import math

import numpy as np

from ._backend import raise_non_finite
from ._base import OdeMethod
from ._errors import ODESolverError
from ._interp import (
    dopri5_coefficients,
    evaluate_dopri5,
    evaluate_hermite,
    hermite_coefficients,
)

__all__ = ["EmbeddedRungeKutta", "initial_step_size", "PIController"]

SAFETY = 0.92
MIN_FACTOR = 0.2
MAX_FACTOR = 10.0


class PIController:
    r"""PI step-size controller (Gustafsson 1991; Hairer & Wanner II, Sec. IV.2, "Lund
    stabilisation"; the standard, integral-only controller is HNW I, Sec. II.4).

    With ``err_n`` the scaled error of the current step and ``err_{n-1}`` that of the
    last accepted one, the next step is

    .. math:: h_{n+1} = h_n \cdot 0.92 \cdot err_n^{-\alpha}\, err_{n-1}^{\beta},
       \qquad \alpha = \frac{1}{q+1},\ \beta = \frac{0.2}{q+1},

    clipped to ``[0.2, 10] h_n``; after a rejection the step may not grow, and a
    rejected step is retried with ``max(0.2, 0.92 err^{-\alpha}) h_n``. ``q`` is the
    order of the embedded error estimate (4 for dopri5: β = 0.04 as in Hairer's
    DOPRI5). The safety factor 0.92 and the integral gain 1/(q+1) were chosen with
    ``benchmarks/solvers.py`` so that, at equal tolerance, dopri5 needs no more
    function evaluations than scipy's RK45 overall, with errors at least as small.
    """

    def __init__(self, error_order, beta=None):
        self.alpha = 1.0 / (error_order + 1)
        self.beta = 0.2 / (error_order + 1) if beta is None else beta
        self.previous_error = 1.0
        self.rejected_last = False

    def accept(self, error_ratio):
        """Factor for the next step after an accepted step."""
        error_ratio = max(error_ratio, 1e-10)
        factor = SAFETY * error_ratio**-self.alpha * self.previous_error**self.beta
        factor = min(MAX_FACTOR, max(MIN_FACTOR, factor))
        if self.rejected_last:
            factor = min(1.0, factor)
        self.previous_error = max(error_ratio, 1e-4)
        self.rejected_last = False
        return factor

    def reject(self, error_ratio):
        """Factor for retrying a rejected step (``error_ratio`` > 1 or NaN)."""
        self.rejected_last = True
        if not math.isfinite(error_ratio):
            return MIN_FACTOR
        return max(MIN_FACTOR, SAFETY * error_ratio**-self.alpha)


def initial_step_size(evaluator, ops, t0, y0, f0, t_end, error_order, rtol, atol):
    """Hairer's automatic initial step (HNW I, Sec. II.4; scipy's ``select_initial_step``).

    With ``sc = atol + rtol |y0|``, ``d0 = rms(y0 / sc)``, ``d1 = rms(f0 / sc)``: a
    trial Euler step of ``h0 = 0.01 d0 / d1`` estimates the second derivative
    ``d2 = rms((f(t0 + h0, y1) - f0) / sc) / h0``, and
    ``h = min(100 h0, (0.01 / max(d1, d2))^(1/(q+1)))``, ``q`` the error estimator's
    order. Costs one evaluation of ``func``, always inside ``[t0, t_end]``; computed
    without an autograd graph. Returns ``|h|``.
    """
    span = abs(t_end - t0)
    direction = 1.0 if t_end > t0 else -1.0
    with ops.no_grad():
        scale = ops.abs(y0) * rtol + atol
        d0, d1 = ops.scaled_rms([y0, f0], scale)
        if not math.isfinite(d1):
            raise_non_finite(t0)
        h0 = 1e-6 if (d0 < 1e-5 or d1 < 1e-5) else 0.01 * d0 / d1
        h0 = min(h0, span)
        t1 = t0 + direction * h0
        if direction * (t1 - t_end) > 0:
            t1 = t_end
        y1 = y0 + f0 * (direction * h0)
    # outside no_grad: a func may need autograd inside (e.g. a CNF's trace)
    f1 = ops.detach(evaluator(t1, y1))
    with ops.no_grad():
        (d2,) = ops.scaled_rms([f1 - f0], scale)
    d2 /= h0
    if not math.isfinite(d2):
        return h0
    if d1 <= 1e-15 and d2 <= 1e-15:
        h1 = max(1e-6, h0 * 1e-3)
    else:
        h1 = (0.01 / max(d1, d2)) ** (1.0 / (error_order + 1))
    return min(100.0 * h0, h1, span)


class EmbeddedRungeKutta(OdeMethod):
    """An adaptive embedded Runge–Kutta pair (tableau with ``b_hat``).

    The solution is advanced with the higher-order weights ``b`` (local
    extrapolation); the error estimate ``h * sum (b - b_hat)_j k_j`` is measured in
    the mixed norm ``rms(err / (atol + rtol * max(|y_n|, |y_{n+1}|)))`` and a step is
    accepted when that is at most 1.

    Parameters
    ----------
    tableau : ButcherTableau
        An explicit tableau with ``b_hat``.
    dense : {"hermite", "dopri5"}
        Dense output: cubic Hermite (order 3) or the dopri5 continuous extension.
    doc : str, optional
        Docstring of this method object.
    """

    adaptive = True
    implicit = False
    family = "adaptive Runge–Kutta"
    options = frozenset({"first_step"})

    def __init__(self, tableau, dense="hermite", doc=None):
        if not (tableau.is_explicit and tableau.is_embedded):
            raise ValueError(
                f"Tableau {tableau.name!r} needs explicit `a` and embedded weights `b_hat` "
                "to be used adaptively."
            )
        self.tableau = tableau
        self.name = tableau.name
        self.order = tableau.order
        self.error_order = tableau.embedded_order
        self.dense = dense
        if not np.any(tableau.b != tableau.b_hat):
            raise ValueError(
                f"Tableau {tableau.name!r} has `b_hat` equal to `b`: no error estimate."
            )
        self.__doc__ = doc or (
            f"Adaptive embedded pair {tableau.name!r}, order {tableau.order}"
            f"({tableau.embedded_order}). Source: {tableau.reference or 'user-defined'}."
        )

    def solve(self, evaluator, ops, y0, times, options, stats):
        """Integrate adaptively; return the stacked outputs ``(len(times), *shape)``."""
        rtol, atol, max_steps = options.rtol, options.atol, options.max_steps
        kernel = ops.rk_kernel(self.tableau, rtol, atol)
        trial = kernel.trial
        use_dopri5 = self.dense == "dopri5"
        controller = PIController(self.error_order)
        step_sizes, step_times = stats.step_sizes, stats.step_times

        t0, t_end = times[0], times[-1]
        direction = 1.0 if t_end > t0 else -1.0
        span = abs(t_end - t0)
        f = ops.first_call(evaluator, t0, y0)
        if options.first_step is None:  # also checks that f(t0, y0) is finite
            h_abs = initial_step_size(
                evaluator, ops, t0, y0, f, t_end, self.error_order, rtol, atol
            )
        else:
            if not ops.all_finite(f):
                raise_non_finite(t0)
            h_abs = min(options.first_step, span)

        abs_y = kernel.abs(y0)
        outputs = [y0]
        num_outputs = len(times)
        next_output = 1
        t, y = t0, y0
        num_steps = 0
        non_finite_seen = False
        while next_output < num_outputs:
            if num_steps >= max_steps:
                raise ODESolverError(
                    f"Reached `max_steps`={max_steps} at t={t:.12g} before t={t_end:g}. "
                    "The problem may be stiff: try an implicit method such as 'bdf2' or "
                    "'backward_euler', or increase `max_steps` or `rtol`/`atol`.",
                    t=float(t),
                )
            h = direction * h_abs
            if direction * (t + 1.01 * h - t_end) >= 0.0:
                t_new = t_end
                h = t_end - t
            else:
                t_new = t + h
            if abs(h) <= 10.0 * math.ulp(max(abs(t), abs(t_new))):
                if non_finite_seen:
                    raise ODESolverError(
                        f"NaN or inf appeared in trial steps near t={t:.12g} and the step size "
                        f"underflowed (|h|={abs(h):.3g}): `func` returns NaN/inf just after "
                        "this time, or the solution blows up here."
                    )
                raise ODESolverError(
                    f"Step size underflow at t={t:.12g} (|h|={abs(h):.3g}): the solver cannot "
                    "meet the tolerances. The solution may blow up near this time, or the "
                    "problem may be stiff: try an implicit method such as 'bdf2' or "
                    "'backward_euler', or loosen `rtol`/`atol`."
                )

            y_new, f_new, ks, error, abs_new = trial(evaluator, t, h, t_new, y, f, abs_y)
            num_steps += 1

            if error <= 1.0:
                step_sizes.append(h)
                step_times.append(t)
                coeffs = None
                while next_output < num_outputs:
                    t_out = times[next_output]
                    if direction * (t_out - t_new) > 0.0:
                        break
                    if t_out == t_new:
                        outputs.append(y_new)
                    else:
                        if coeffs is None:
                            if use_dopri5:
                                coeffs = dopri5_coefficients(h, y, y_new, kernel.stage_list(ks))
                            else:
                                if f_new is None:
                                    f_new = evaluator(t_new, y_new)
                                coeffs = hermite_coefficients(h, y, y_new, f, f_new)
                        evaluate = evaluate_dopri5 if use_dopri5 else evaluate_hermite
                        outputs.append(evaluate(coeffs, (t_out - t) / h))
                    next_output += 1
                if f_new is None and next_output < num_outputs:
                    f_new = evaluator(t_new, y_new)
                t, y, f, abs_y = t_new, y_new, f_new, abs_new
                h_abs = abs(h) * controller.accept(error)
            else:
                stats.num_rejected += 1
                if not math.isfinite(error):
                    non_finite_seen = True
                    if not ops.all_finite(f):
                        raise_non_finite(t)
                h_abs = abs(h) * controller.reject(error)
        stats.num_accepted += len(step_sizes)
        return ops.stack(outputs)
