r"""Linear multistep methods on a fixed grid: Adams–Bashforth, Adams–Moulton, ABM, BDF.

A k-step method is stored as its coefficients in *ascending* order,

.. math:: \sum_{j=0}^{k} \alpha_j\, y_{n+j} = h \sum_{j=0}^{k} \beta_j\, f_{n+j},
   \qquad \alpha_k = 1,

i.e. the characteristic polynomials :math:`\rho(\zeta) = \sum_j \alpha_j \zeta^j` and
:math:`\sigma(\zeta) = \sum_j \beta_j \zeta^j` (see ``course_utils.analysis``). The
method is explicit when :math:`\beta_k = 0`; otherwise each step solves
:math:`y_{n+k} = r + h\beta_k f(t_{n+k}, y_{n+k})` by Newton (see ``_implicit``).

The first ``k - 1`` steps (the starting values), and a final step shorter than
``step_size`` (when the span is not a multiple of it), are taken by a one-step
*starter* of at least the method's order, so the global order stays that of the method:

* explicit methods (Adams–Bashforth, ABM in PECE mode): the classical fourth-order
  Runge–Kutta method, rk4;
* implicit methods (Adams–Moulton, BDF): backward Euler extrapolated to the method's
  order p (:class:`~course_utils.ode._implicit.ExtrapolatedEulerStepper`, Aitken–Neville
  over 1, 2, …, p substeps), implicit and stiffly stable (its stability function
  vanishes at infinity). An explicit starter would undo the point of BDF on a stiff
  problem: on Robertson's reactions with h = 0.1, an rk4 starting step lands far
  outside rk4's stability region and the BDF steps after it cannot recover.

Each implicit step is predicted by the Adams–Bashforth method of as many steps
(Adams–Moulton; for ``am1``/``bdf1``, AB1 = explicit Euler, exactly as
``backward_euler`` does, so ``bdf1`` *is* ``backward_euler``), or by extrapolating the
last k values (BDF, k >= 2), and corrected by Newton's method.

References: Hairer, Nørsett & Wanner, *Solving ODEs I*, Sec. III.1 (Adams), III.2
(predictor–corrector), III.1 (BDF); Hairer & Wanner, *Solving ODEs II*, Sec. IV.9
(extrapolated implicit Euler); Süli & Mayers, Ch. 12.
"""

from collections import deque
from fractions import Fraction as F

import numpy as np

from ._base import OdeMethod
from ._explicit import RungeKuttaStepper
from ._fixed import solve_fixed_grid
from ._implicit import IMPLICIT_OPTIONS, ExtrapolatedEulerStepper, NewtonSolver
from ._tableaus import TABLEAUS

__all__ = ["LinearMultistep", "AdamsPredictorCorrector", "ADAMS_BASHFORTH", "ADAMS_MOULTON", "BDF"]

# Adams–Bashforth of order p: p steps, beta ascending (beta_k = 0).
ADAMS_BASHFORTH = {
    1: [F(1), F(0)],
    2: [F(-1, 2), F(3, 2), F(0)],
    3: [F(5, 12), F(-16, 12), F(23, 12), F(0)],
    4: [F(-9, 24), F(37, 24), F(-59, 24), F(55, 24), F(0)],
}
# Adams–Moulton of order p: max(1, p - 1) steps, beta ascending.
ADAMS_MOULTON = {
    1: [F(0), F(1)],
    2: [F(1, 2), F(1, 2)],
    3: [F(-1, 12), F(8, 12), F(5, 12)],
    4: [F(1, 24), F(-5, 24), F(19, 24), F(9, 24)],
}
# BDF of order p: p steps, (alpha ascending, beta_k).
BDF = {
    1: ([F(-1), F(1)], F(1)),
    2: ([F(1, 3), F(-4, 3), F(1)], F(2, 3)),
    3: ([F(-2, 11), F(9, 11), F(-18, 11), F(1)], F(6, 11)),
    4: ([F(3, 25), F(-16, 25), F(36, 25), F(-48, 25), F(1)], F(12, 25)),
}


def _adams_alpha(num_steps):
    return [F(0)] * (num_steps - 1) + [F(-1), F(1)]


def _extrapolation_weights(num_points):
    """Weights that extrapolate a polynomial through the last points one step ahead
    (ascending: oldest first): for 3 points ``(1, -3, 3)``."""
    from math import comb

    k = num_points
    return [(-1) ** (k - j + 1) * comb(k, k - j) for j in range(k)]


class _MultistepStepper:
    """Steps ``sum alpha_j y_{n+j} = h sum beta_j f_{n+j}`` with a history of k values."""

    def __init__(self, method, evaluator, ops, options, stats, step):
        self.evaluator = evaluator
        self.combine = ops.combine
        self.h = step
        k = method.num_steps
        self.num_steps = k
        alpha = [float(a) for a in method.alpha]
        beta = [float(b) for b in method.beta]
        # y_{n+k} = sum_j (-alpha_j) y_{n+j} + h sum_j beta_j f_{n+j} + h beta_k f_{n+k}
        self.y_pairs = tuple((j, -alpha[j]) for j in range(k) if alpha[j] != 0.0)
        self.f_pairs = tuple((j, beta[j]) for j in range(k) if beta[j] != 0.0)
        self.beta_k = beta[k]
        self.needs_f = bool(self.f_pairs)
        self.ys = deque(maxlen=k)
        self.fs = deque(maxlen=k)
        if self.beta_k:  # implicit: a stiffly stable implicit starter of the same order
            self.starter = ExtrapolatedEulerStepper(method.order, evaluator, ops, options, stats)
            self.newton = NewtonSolver(evaluator, ops, options, stats)
        else:
            self.starter = RungeKuttaStepper(TABLEAUS["rk4"], evaluator, ops)
            self.newton = None
        if self.beta_k and (self.needs_f or k == 1):
            # Adams–Moulton, and bdf1 (= backward Euler): predict with AB of k steps
            ab = ADAMS_BASHFORTH[k]
            self.predict_pairs = tuple((j, float(b)) for j, b in enumerate(ab[:k]) if b != 0)
            self.predict_with_f = True
        else:  # BDF: extrapolate the last k values
            weights = _extrapolation_weights(k)
            self.predict_pairs = tuple((j, float(w)) for j, w in enumerate(weights))
            self.predict_with_f = False
        self.uses_f = self.needs_f or self.predict_with_f

    def _uniform(self, h):
        return abs(h - self.h) <= 1e-9 * abs(self.h)

    def step(self, t, t_next, y, f_start):
        h = t_next - t
        history_full = len(self.ys) >= self.num_steps - 1
        f = f_start
        if f is None and (self.uses_f or not history_full or not self._uniform(h)):
            f = self.evaluator(t, y)
        self.ys.append(y)
        self.fs.append(f)
        if len(self.ys) < self.num_steps or not self._uniform(h):
            y_next, f, _ = self.starter.step(t, t_next, y, f)
            return y_next, f, None
        # h = t_next - t: the uniform step up to rounding (the very h backward_euler uses)
        ys, fs, combine = list(self.ys), list(self.fs), self.combine
        rhs = combine(None, 1.0, self.y_pairs, ys)
        if self.f_pairs:
            rhs = combine(rhs, h, self.f_pairs, fs)
        if not self.beta_k:
            return rhs, f, None
        if self.predict_with_f:
            guess = combine(y, h, self.predict_pairs, fs)
        else:
            guess = combine(None, 1.0, self.predict_pairs, ys)
        return self.newton.solve(t_next, rhs, h * self.beta_k, guess), f, None


class LinearMultistep(OdeMethod):
    """A linear multistep method given by its coefficients ``alpha``, ``beta`` (ascending).

    Explicit methods start (and take a shortened last step) with rk4, implicit ones
    with backward Euler extrapolated to ``order`` (see the module docstring).

    Parameters
    ----------
    name : str
        Registry name, e.g. ``'ab2'``.
    alpha, beta : sequence of Fraction, length k + 1
        Coefficients of ρ and σ in ascending powers, ``alpha[k] == 1``.
    order : int
        Order of accuracy.
    doc : str
        Docstring of this method object.
    """

    adaptive = False
    family = "linear multistep"

    def __init__(self, name, alpha, beta, order, doc):
        self.name = name
        self.alpha = tuple(alpha)
        self.beta = tuple(beta)
        self.order = order
        self.num_steps = len(alpha) - 1
        self.implicit = beta[-1] != 0
        self.options = IMPLICIT_OPTIONS if self.implicit else frozenset({"step_size"})
        self.__doc__ = doc

    @property
    def rho(self):
        """Coefficients of ρ(ζ), ascending powers, as floats (shape (k+1,))."""
        return np.array([float(a) for a in self.alpha])

    @property
    def sigma(self):
        """Coefficients of σ(ζ), ascending powers, as floats (shape (k+1,))."""
        return np.array([float(b) for b in self.beta])

    def make_stepper(self, evaluator, ops, options, stats, step):
        return _MultistepStepper(self, evaluator, ops, options, stats, step)

    def solve(self, evaluator, ops, y0, times, options, stats):
        return solve_fixed_grid(self, evaluator, ops, y0, times, options, stats)


class _PECEStepper:
    def __init__(self, order, evaluator, ops, step):
        self.h = step
        self.evaluator = evaluator
        self.combine = ops.combine
        self.order = order
        ab = ADAMS_BASHFORTH[order]
        am = ADAMS_MOULTON[order]
        self.ab_pairs = tuple((j, float(b)) for j, b in enumerate(ab[:-1]) if b != 0)
        shift = order - (len(am) - 1)  # AM history is shorter than AB's by `shift`
        self.am_pairs = tuple((j + shift, float(b)) for j, b in enumerate(am[:-1]) if b != 0)
        self.am_last = float(am[-1])
        self.fs = deque(maxlen=order)
        self.starter = RungeKuttaStepper(TABLEAUS["rk4"], evaluator, ops)

    def step(self, t, t_next, y, f_start):
        h = t_next - t
        f = self.evaluator(t, y) if f_start is None else f_start
        self.fs.append(f)
        if len(self.fs) < self.order or abs(h - self.h) > 1e-9 * abs(self.h):
            y_next, f, _ = self.starter.step(t, t_next, y, f)
            return y_next, f, None
        h, combine, fs = self.h, self.combine, list(self.fs)
        y_pred = combine(y, h, self.ab_pairs, fs)  # P
        f_pred = self.evaluator(t_next, y_pred)  # E
        y_corr = combine(y, h, self.am_pairs, fs)  # C
        y_corr = combine(y_corr, h, ((0, self.am_last),), [f_pred])
        return y_corr, f, None  # the final E happens at the start of the next step


class AdamsPredictorCorrector(OdeMethod):
    """Adams–Bashforth–Moulton predictor–corrector of order p in PECE mode.

    Predict with AB(p), Evaluate, Correct with AM(p), Evaluate: two evaluations of
    ``func`` per step, order p, explicit (no Newton). Source: Hairer, Nørsett &
    Wanner, *Solving ODEs I*, Sec. III.1; Süli & Mayers, Sec. 12.9. Started with rk4.
    """

    adaptive = False
    implicit = False
    family = "linear multistep"
    options = frozenset({"step_size"})

    def __init__(self, order):
        self.order = order
        self.name = f"abm{order}"
        self.num_steps = order

    def make_stepper(self, evaluator, ops, options, stats, step):
        return _PECEStepper(self.order, evaluator, ops, step)

    def solve(self, evaluator, ops, y0, times, options, stats):
        return solve_fixed_grid(self, evaluator, ops, y0, times, options, stats)
