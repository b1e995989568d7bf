r"""Steps: one step of a method, from ``(t, y)`` to ``t_new = t + h``.

Every step object has the same two methods, which is all the loop (:mod:`._loop`) uses:

``step(t, h, t_new, y, f) -> StepResult``
    Take one step. ``f`` is ``f(t, y)`` when the loop already knows it, else None (the
    step evaluates it if it needs it). The result holds the new state, ``f`` at both ends
    when known, a *raw* error estimate (a state-shaped array, or None for a method without
    one — judging it is the controller's job), the stages for dense output, and for
    explicit pairs an estimate of ``h·|λ|`` for the stiffness test.
``interpolate(t, h, y, result, theta) -> state``
    The state at ``t + θh`` from the step's interpolant (``0 <= θ <= 1``).

The families, in the order the notebooks meet them:

* :class:`ExplicitRungeKutta` — every explicit tableau, fixed-step or embedded pair
  (weeks 1–2). The stages are the formula
  :math:`k_i = f(t + c_i h, y + h\sum_{j<i} a_{ij} k_j)`, written plainly in
  :class:`PlainStages`; the backends' fast kernels (:mod:`._kernels`) compute the same
  numbers with fewer library calls;
* :class:`DiagonallyImplicitRungeKutta` — every tableau whose ``a`` is lower triangular:
  backward Euler, the trapezoidal rule, the θ-method and the implicit midpoint rule, each
  implicit stage solved by Newton's method (:mod:`._newton`);
* :class:`ExtrapolatedEuler` — backward Euler extrapolated to order p, the stiffly stable
  starter of the implicit multistep methods;
* :class:`LinearMultistepStep` and :class:`PredictorCorrectorStep` — Adams–Bashforth,
  Adams–Moulton, BDF and ABM on a fixed grid (they keep a history, so they are driven only
  by the constant-step controller, which never rejects a step).
"""

from collections import deque
from math import comb
from typing import Any, NamedTuple

import numpy as np

from ._interp import dense_weights, hermite
from ._kernels import nonzero_pairs

__all__ = [
    "StepResult",
    "PlainStages",
    "ExplicitRungeKutta",
    "DiagonallyImplicitRungeKutta",
    "ExtrapolatedEuler",
    "LinearMultistepStep",
    "PredictorCorrectorStep",
    "lincomb",
]


class StepResult(NamedTuple):
    """What one step returns to the loop."""

    y_new: Any  # the state at t_new
    f: Any  # f(t, y), or None if the step did not need it
    f_new: Any  # f(t_new, y_new) when known for free (FSAL), else None
    error: Any = None  # raw error estimate (state-shaped), None for a fixed-step method
    stages: Any = None  # what `interpolate` needs beyond y, y_new, f, f_new
    stiffness: Any = None  # an estimate of h·|λ| (explicit pairs), or None


def lincomb(base, h, pairs, vectors):
    """``base + h Σ_j a_j vectors[j]`` for ``pairs = ((j, a_j), ...)`` (``base`` may be None)."""
    total = None
    for j, a in pairs:
        term = vectors[j] * (h * a)
        total = term if total is None else total + term
    if base is None:
        return total
    return base if total is None else base + total


def _hermite_from(result, t, h, y, theta):
    return hermite(y, result.y_new, result.f, result.f_new, h, theta)


# ----------------------------------------------------------------------------- explicit RK
class PlainStages:
    r"""The stages of an explicit Runge–Kutta step, exactly as written in week 2.

    .. math:: k_i = f\Big(t + c_i h,\; y + h \sum_{j<i} a_{ij} k_j\Big), \qquad
       y_{new} = y + h \sum_i b_i k_i, \qquad
       \text{error} = h \sum_i (b_i - \hat b_i) k_i .

    This is the reference implementation; the backends' kernels must agree with it.
    """

    def __init__(self, tableau, backend):
        self.rows = tuple(
            (float(tableau.c[i]), nonzero_pairs(tableau.a[i, :i]))
            for i in range(1, tableau.num_stages)
        )
        self.b = nonzero_pairs(tableau.b)
        self.e = None if tableau.b_hat is None else nonzero_pairs(tableau.error_weights)
        self.fsal = tableau.is_fsal
        self.no_grad = backend.no_grad

    def run(self, evaluator, t, h, t_new, y, f):
        from ._kernels import StageResult

        ks = [f]
        y_stage, y_before = y, None
        for c, pairs in self.rows:
            y_before = y_stage
            y_stage = lincomb(y, h, pairs, ks)
            ks.append(evaluator(t_new if c == 1.0 else t + c * h, y_stage))
        error = None
        if self.e is not None:
            with self.no_grad():
                error = lincomb(None, h, self.e, ks)
        if self.fsal:
            return StageResult(y_stage, ks[-1], ks, error, y_before)
        return StageResult(lincomb(y, h, self.b, ks), None, ks, error, y_stage)

    def combine(self, y, h, weights, ks):
        return lincomb(y, h, nonzero_pairs(weights), ks)


class ExplicitRungeKutta:
    """One explicit Runge–Kutta step of any tableau (fixed step, or an embedded pair).

    Parameters
    ----------
    tableau : ButcherTableau
        Explicit (strictly lower-triangular ``a``).
    evaluator, backend
        The counted ``func`` and the state's backend.
    fast : bool
        Use the backend's stage kernel (default) instead of :class:`PlainStages`; both
        give the same numbers (``tests/test_ode_engine.py``).

    The stiffness estimate (Hairer's test in DOPRI5, HNW I Sec. IV.2 of Part II): when the
    last two stages are both evaluated at ``t + h`` (dopri5), ``h |k_s - k_{s-1}| /
    |y_new - Y_{s-1}|`` estimates ``h|λ|`` for the dominant eigenvalue λ of the Jacobian.
    """

    def __init__(self, tableau, evaluator, backend, fast=True):
        self.tableau = tableau
        self.evaluator = evaluator
        self.backend = backend
        self.stages = backend.stage_kernel(tableau) if fast else PlainStages(tableau, backend)
        c = tableau.c
        self.detects_stiffness = bool(
            tableau.is_fsal and tableau.num_stages >= 3 and c[-1] == 1.0 and c[-2] == 1.0
        )
        self.check_stiffness = False  # the loop switches this on when it wants a reading
        self.dense = tableau.dense
        self.needs_end_derivative = self.dense is None  # the Hermite interpolant needs it

    def step(self, t, h, t_new, y, f):
        if f is None:
            f = self.evaluator(t, y)
        run = self.stages.run(self.evaluator, t, h, t_new, y, f)
        stiffness = None
        if self.check_stiffness and self.detects_stiffness:
            rms = self.backend.rms
            with self.backend.no_grad():
                denominator = rms(run.y_new - run.y_penultimate)
                if denominator > 0.0:
                    change = run.f_new.reshape(-1) - run.stages[-2].reshape(-1)
                    stiffness = abs(h) * rms(change) / denominator
        return StepResult(run.y_new, f, run.f_new, run.error, run.stages, stiffness)

    def interpolate(self, t, h, y, result, theta):
        if self.dense is None:
            return _hermite_from(result, t, h, y, theta)
        return self.stages.combine(y, h, dense_weights(self.dense, theta), result.stages)


# ----------------------------------------------------------------------------- implicit RK
class DiagonallyImplicitRungeKutta:
    r"""One step of a diagonally implicit Runge–Kutta method (lower-triangular ``a``).

    Stage by stage, with :math:`r_i = y + h\sum_{j<i} a_{ij} k_j`:

    * ``a_ii = 0``: an explicit stage, :math:`k_i = f(t + c_i h, r_i)`;
    * ``a_ii ≠ 0``: solve :math:`Y_i = r_i + h a_{ii} f(t + c_i h, Y_i)` by Newton from the
      predictor :math:`y + c_i h f(t, y)`, then :math:`k_i = (Y_i - r_i) / (h a_{ii})`
      (no further evaluation of ``f``; Hairer & Wanner II, Sec. IV.8).

    A stiffly accurate method (``b`` = the last row of ``a``) returns its last stage value
    as ``y_new``. This one step serves backward Euler ``[[1]]``, the θ-method
    ``[[0, 0], [θ, 1-θ]]`` (trapezoidal at θ = ½) and the implicit midpoint rule ``[[½]]``.
    """

    needs_end_derivative = True  # interpolated by the cubic Hermite polynomial

    def __init__(self, tableau, evaluator, backend, newton):
        self.evaluator = evaluator
        self.newton = newton
        s = tableau.num_stages
        self.stages = tuple(
            (float(tableau.c[i]), nonzero_pairs(tableau.a[i, :i]), float(tableau.a[i, i]))
            for i in range(s)
        )
        self.b = nonzero_pairs(tableau.b)
        self.stiffly_accurate = bool(np.array_equal(tableau.a[-1], tableau.b))

    def step(self, t, h, t_new, y, f):
        if f is None:
            f = self.evaluator(t, y)
        ks = []
        stage_value = y
        last = len(self.stages) - 1
        for i, (c, pairs, diagonal) in enumerate(self.stages):
            t_stage = t_new if c == 1.0 else t + c * h
            rhs = lincomb(y, h, pairs, ks)
            if diagonal == 0.0:
                stage_value = rhs
                if i == last and self.stiffly_accurate:
                    break  # y_new = rhs; f there is the next step's business
                k = f if (i == 0 and c == 0.0) else self.evaluator(t_stage, rhs)
            else:
                stage_value = self.newton.solve(t_stage, rhs, h * diagonal, y + f * (c * h))
                k = (stage_value - rhs) * (1.0 / (h * diagonal))
            ks.append(k)
        y_new = stage_value if self.stiffly_accurate else lincomb(y, h, self.b, ks)
        return StepResult(y_new, f, None)

    def interpolate(self, t, h, y, result, theta):
        return _hermite_from(result, t, h, y, theta)


class ExtrapolatedEuler:
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

    needs_end_derivative = True  # interpolated by the cubic Hermite polynomial

    def __init__(self, order, evaluator, newton):
        self.order = order
        self.evaluator = evaluator
        self.newton = newton

    def step(self, t, h, t_new, y, f):
        if f is None:
            f = self.evaluator(t, y)
        solve = self.newton.solve
        row = []  # row[k - 1] = T_{j-1,k}
        for j in range(1, self.order + 1):
            sub = h / j
            y_sub, before = y, None
            for i in range(1, j + 1):
                t_sub = t_new if i == j else t + i * sub
                guess = y_sub + f * sub if before is None else y_sub * 2.0 - before
                before, y_sub = y_sub, solve(t_sub, y_sub, sub, guess)
            new_row = [y_sub]
            for k in range(1, j):  # T_{j,k+1} from T_{j,k} and T_{j-1,k}
                new_row.append(new_row[k - 1] + (new_row[k - 1] - row[k - 1]) * ((j - k) / k))
            row = new_row
        return StepResult(row[-1], f, None)

    def interpolate(self, t, h, y, result, theta):
        return _hermite_from(result, t, h, y, theta)


# ----------------------------------------------------------------------------- multistep
def extrapolation_weights(num_points):
    """Weights that extrapolate a polynomial through the last points one step ahead
    (ascending: oldest first): for 3 points ``(1, -3, 3)``."""
    k = num_points
    return [(-1) ** (k - j + 1) * comb(k, k - j) for j in range(k)]


class LinearMultistepStep:
    r"""Steps :math:`\sum_j \alpha_j y_{n+j} = h \sum_j \beta_j f_{n+j}` with a history of k values.

    Until ``k - 1`` values are known, and for a step shorter than ``step_size`` (the last
    one, when the span is not a multiple of it), the one-step ``starter`` is used. An
    implicit step (``β_k ≠ 0``) solves :math:`y_{n+k} = r + h\beta_k f(t_{n+k}, y_{n+k})`
    by Newton from the Adams–Bashforth predictor of as many steps (Adams–Moulton, and
    ``bdf1``: AB1 is explicit Euler, so ``bdf1`` gives the numbers of ``backward_euler``)
    or from extrapolating the last k values (BDF, k >= 2).
    """

    needs_end_derivative = True  # interpolated by the cubic Hermite polynomial

    def __init__(self, method, evaluator, starter, newton, step_size, predictor_beta):
        self.evaluator = evaluator
        self.starter = starter
        self.newton = newton
        self.h = step_size
        k = method.num_steps
        self.num_steps = k
        alpha = [float(a) for a in method.alpha]
        beta = [float(b) for b in method.beta]
        # y_{n+k} = sum_j (-alpha_j) y_{n+j} + h sum_j beta_j f_{n+j} + h beta_k f_{n+k}
        self.y_pairs = tuple((j, -alpha[j]) for j in range(k) if alpha[j] != 0.0)
        self.f_pairs = tuple((j, beta[j]) for j in range(k) if beta[j] != 0.0)
        self.beta_k = beta[k]
        self.ys = deque(maxlen=k)
        self.fs = deque(maxlen=k)
        if self.beta_k and (self.f_pairs or k == 1):  # predict with AB of k steps
            self.predict_pairs = tuple(
                (j, float(b)) for j, b in enumerate(predictor_beta[:k]) if b != 0
            )
            self.predict_with_f = True
        else:  # BDF: extrapolate the last k values
            weights = extrapolation_weights(k)
            self.predict_pairs = tuple((j, float(w)) for j, w in enumerate(weights))
            self.predict_with_f = False
        self.uses_f = bool(self.f_pairs) or self.predict_with_f

    def _uniform(self, h):
        return abs(h - self.h) <= 1e-9 * abs(self.h)

    def step(self, t, h, t_new, y, f):
        history_full = len(self.ys) >= self.num_steps - 1
        if f is None and (self.uses_f or not history_full or not self._uniform(h)):
            f = self.evaluator(t, y)
        self.ys.append(y)
        self.fs.append(f)
        if len(self.ys) < self.num_steps or not self._uniform(h):
            return self.starter.step(t, h, t_new, y, f)
        ys, fs = list(self.ys), list(self.fs)
        rhs = lincomb(None, 1.0, self.y_pairs, ys)
        if self.f_pairs:
            rhs = lincomb(rhs, h, self.f_pairs, fs)
        if not self.beta_k:
            return StepResult(rhs, f, None)
        if self.predict_with_f:
            guess = lincomb(y, h, self.predict_pairs, fs)
        else:
            guess = lincomb(None, 1.0, self.predict_pairs, ys)
        return StepResult(self.newton.solve(t_new, rhs, h * self.beta_k, guess), f, None)

    def interpolate(self, t, h, y, result, theta):
        return _hermite_from(result, t, h, y, theta)


class PredictorCorrectorStep:
    """Adams–Bashforth–Moulton of order p in PECE mode: Predict with AB(p), Evaluate,
    Correct with AM(p), and the final Evaluate happens at the start of the next step."""

    needs_end_derivative = True  # interpolated by the cubic Hermite polynomial

    def __init__(self, order, evaluator, starter, step_size, ab_beta, am_beta):
        self.h = step_size
        self.evaluator = evaluator
        self.order = order
        self.ab_pairs = tuple((j, float(b)) for j, b in enumerate(ab_beta[:-1]) if b != 0)
        shift = order - (len(am_beta) - 1)  # AM history is shorter than AB's by `shift`
        self.am_pairs = tuple(
            (j + shift, float(b)) for j, b in enumerate(am_beta[:-1]) if b != 0
        )
        self.am_last = float(am_beta[-1])
        self.fs = deque(maxlen=order)
        self.starter = starter

    def step(self, t, h, t_new, y, f):
        if f is None:
            f = self.evaluator(t, y)
        self.fs.append(f)
        if len(self.fs) < self.order or abs(h - self.h) > 1e-9 * abs(self.h):
            return self.starter.step(t, h, t_new, y, f)
        h, fs = self.h, list(self.fs)
        y_pred = lincomb(y, h, self.ab_pairs, fs)  # P
        f_pred = self.evaluator(t_new, y_pred)  # E
        y_corr = lincomb(y, h, self.am_pairs, fs)  # C
        y_corr = lincomb(y_corr, h, ((0, self.am_last),), [f_pred])
        return StepResult(y_corr, f, None)

    def interpolate(self, t, h, y, result, theta):
        return _hermite_from(result, t, h, y, theta)
