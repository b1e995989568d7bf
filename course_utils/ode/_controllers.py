r"""Controllers: where the next step ends, and whether a step is accepted.

A controller owns what the steps do not: ``rtol``, ``atol``, the error norm and the
accept/reject decision. The loop (:mod:`._loop`) asks it

``start(t0, y0, f0)``
    once, before the first step (the PI controller picks the initial step size here);
``propose(t) -> (h, t_new)``
    where the next step should end (the last step always lands exactly on ``t[-1]``);
``judge(result, y, h) -> bool``
    whether the step just taken is accepted (and, if it is adaptive, the next size).

and it reads three attributes: ``snap`` (how close, in steps, an output time must be to the
end of a step to get the step's value itself), ``rejects_non_finite`` (a NaN/inf step is
rejected by the controller, so the loop need not test each state) and ``on_jump`` (the
step just proposed ends on a discontinuity of ``func``).

Two controllers:

* :class:`ConstantStep` — the grid ``t[0] + k·step_size`` (last step shortened to land on
  ``t[-1]``); every step is accepted;
* :class:`PIController` — the error ratio
  ``rms(err / (atol + rtol·max(|y_n|, |y_{n+1}|)))`` against 1, and the PI formula for the
  next step.

:class:`StiffnessDetector` watches the ``h·|λ|`` estimates of an explicit pair and stops a
solve that has become stiff (Hairer's test in DOPRI5).

References: Hairer, Nørsett & Wanner, *Solving ODEs I*, Sec. II.4 (error estimate,
standard step-size selection, initial step); Hairer & Wanner, *Solving ODEs II*, Sec. IV.2
(the PI controller, "Lund stabilisation", as in the DOPRI5 code; stiffness detection);
Gustafsson, Lundh & Söderlind, BIT 28 (1988); Gustafsson, ACM TOMS 17 (1991).
"""

import math

from ._backend import raise_non_finite
from ._errors import ODESolverError

__all__ = ["ConstantStep", "PIController", "StiffnessDetector", "initial_step_size"]

SAFETY = 0.92
MIN_FACTOR = 0.2
MAX_FACTOR = 10.0
STIFF_ADVICE = (
    "try method='auto' (it switches to a stiff solver) or an adaptive stiff method such "
    "as 'radau5', 'sdirk4', 'kvaerno3' or 'rosenbrock23'; or an implicit fixed-step "
    "method such as 'bdf2' or 'backward_euler'; or loosen `rtol`/`atol`"
)


class ConstantStep:
    """Steps on the grid ``t0 + k * step_size`` towards ``t_end``; accepts every step.

    When the span is not a multiple of ``step_size`` (to a relative ``1e-9``), the *last*
    step is shortened to land exactly on ``t_end``. An output time within ``1e-9`` of a
    step of a grid point is that grid point (``snap``), so for a uniform ``t`` that is a
    multiple of ``step_size`` the outputs are exactly the method's values.
    """

    snap = 1e-9
    rejects_non_finite = False  # the loop must test the states itself
    on_jump = False

    def __init__(self, step_size, t0, t_end, max_steps):
        self.t0, self.t_end = t0, t_end
        direction = 1.0 if t_end > t0 else -1.0
        self.h = direction * step_size
        ratio = abs(t_end - t0) / step_size
        nearest = round(ratio)
        if nearest >= 1 and abs(ratio - nearest) <= self.snap * max(1.0, ratio):
            self.num_steps = nearest  # the grid lands on t_end
        else:
            self.num_steps = math.floor(ratio) + 1  # a shorter last step
        if self.num_steps > max_steps:
            raise ValueError(
                f"`step_size`={step_size:g} needs {self.num_steps} steps to cover "
                f"[{t0:g}, {t_end:g}], more than `max_steps`={max_steps}; "
                "increase `step_size` or `max_steps`."
            )
        self.taken = 0

    def start(self, t0, y0, f0):
        pass

    def propose(self, t):
        k = self.taken + 1
        t_new = self.t_end if k == self.num_steps else self.t0 + k * self.h
        return t_new - t, t_new

    def judge(self, result, y, h):
        self.taken += 1
        return True


class GridSteps:
    """Steps on a given grid of times; accepts every step (feature: torchdiffeq
    compatibility).

    This is what a fixed-step method does without ``step_size``: it steps on the output
    times ``t`` themselves, uniform or not, or on the grid of ``grid_constructor``.
    """

    snap = 1e-9
    on_jump = False

    def __init__(self, grid, max_steps):
        if len(grid) - 1 > max_steps:
            raise ValueError(
                f"The step grid has {len(grid) - 1} steps, more than `max_steps`="
                f"{max_steps}; increase `max_steps`."
            )
        self.grid = grid
        self.taken = 0

    def start(self, t0, y0, f0):
        pass

    def propose(self, t):
        t_new = self.grid[self.taken + 1]
        return t_new - t, t_new

    def judge(self, result, y, h):
        self.taken += 1
        return True


class PIController:
    r"""Error control and PI step-size selection for embedded pairs (Gustafsson 1991;
    Hairer & Wanner II, Sec. IV.2, "Lund stabilisation"; the standard, integral-only
    controller is HNW I, Sec. II.4).

    A step is accepted when the error ratio

    .. math:: \mathrm{err} = \sqrt{\frac{1}{n}\sum_i \Big(\frac{e_i}
       {\mathrm{atol}_i + \mathrm{rtol}_i \max(|y_{n,i}|, |y_{n+1,i}|)}\Big)^2} \le 1,

    with ``e`` the step's raw error estimate. With ``err_n`` the ratio of the current step
    and ``err_{n-1}`` that of the last accepted one, the next step is

    .. math:: h_{n+1} = h_n \cdot 0.92 \cdot err_n^{-\alpha}\, err_{n-1}^{\beta},
       \qquad \alpha = \frac{1}{q+1},\ \beta = \frac{0.2}{q+1},

    clipped to ``[0.2, 10] h_n``; after a rejection the step may not grow, and a
    rejected step is retried with ``max(0.2, 0.92 err^{-\alpha}) h_n``. ``q`` is the
    order of the embedded error estimate (4 for dopri5: β = 0.04 as in Hairer's
    DOPRI5). The safety factor 0.92 and the integral gain 1/(q+1) were chosen with
    ``benchmarks/solvers.py`` so that, at equal tolerance, dopri5 needs no more
    function evaluations than scipy's RK45 overall, with errors at least as small.
    ``rtol = 0`` (pure absolute control) or ``atol = 0`` (pure relative) is allowed when
    the other is positive.
    """

    snap = 0.0
    rejects_non_finite = True  # a NaN/inf step has a NaN/inf error ratio: rejected

    def __init__(self, error_order, rtol=1e-7, atol=1e-9, *, first_step=None,
                 safety=SAFETY, ifactor=MAX_FACTOR, dfactor=MIN_FACTOR, norm=None,
                 min_step=None, max_step=None, step_t=(), jump_t=()):
        self.rtol, self.atol = rtol, atol
        # torchdiffeq's options (feature: torchdiffeq compatibility)
        self.safety, self.ifactor, self.dfactor = safety, ifactor, dfactor
        self.norm = norm  # norm(scaled error) -> number, or None for the RMS
        self.min_step = min_step or 0.0
        self.max_step = max_step or math.inf
        self.boundaries = sorted(set(step_t) | set(jump_t))
        self.jumps = frozenset(jump_t)
        self.on_jump = False  # the step just proposed ends on a jump_t
        self.alpha = 1.0 / (error_order + 1)
        self.beta = 0.2 / (error_order + 1)
        self.error_order = error_order
        self.first_step = first_step
        self.previous_error = 1.0
        self.rejected_last = False
        self.non_finite_seen = False
        self.h_abs = None
        self.abs_y = None  # |y_n|, carried over from the last accepted step

    def attach(self, backend, evaluator, stats, t0, t_end):
        """Bind the controller to one solve (``odeint`` calls this before the loop)."""
        self.backend, self.evaluator, self.stats = backend, evaluator, stats
        self.t0, self.t_end = t0, t_end
        self.direction = 1.0 if t_end > t0 else -1.0
        # with atol = 0 a component that stays exactly 0 would divide 0 by 0
        self.tiny = zero_atol_floor(self.atol, backend.eps)
        return self

    # -- the PI formula
    def accept_factor(self, error_ratio):
        """Factor for the next step after an accepted step."""
        error_ratio = max(error_ratio, 1e-10)
        factor = self.safety * error_ratio**-self.alpha * self.trend(error_ratio)
        factor = min(self.ifactor, max(self.dfactor, factor))
        if self.rejected_last:
            factor = min(1.0, factor)
        self.rejected_last = False
        return factor

    def trend(self, error_ratio):
        """The history term of the formula, ``err_{n-1}^β``; remembers ``err_n``."""
        term = self.previous_error**self.beta
        self.previous_error = max(error_ratio, 1e-4)
        return term

    def forget_history(self):
        """Start afresh (``odeint(method="auto")`` hands the solve to this controller)."""
        self.abs_y = None  # |y_n| is recomputed from the next step's y
        self.previous_error, self.rejected_last = 1.0, False

    def reject_factor(self, error_ratio):
        """Factor for retrying a rejected step (``error_ratio`` > 1 or NaN)."""
        self.rejected_last = True
        if not math.isfinite(error_ratio):
            return self.dfactor
        return max(self.dfactor, self.safety * error_ratio**-self.alpha)

    # -- the controller protocol
    def error_ratio(self, error, y, y_new):
        """The RMS of the scaled error (a Python float); remembers ``|y_new|``."""
        backend = self.backend
        with backend.no_grad():
            if self.abs_y is None:
                self.abs_y = backend.abs(backend.detach(y))
            abs_new = backend.abs(backend.detach(y_new))
            scale = backend.maximum(self.abs_y, abs_new)  # a fresh array: update in place
            scale *= self.rtol
            scale += self.atol + self.tiny if self.tiny else self.atol
            ratio = backend.rms(error / scale) if self.norm is None \
                else float(self.norm(error / scale))
        self._abs_new = abs_new
        return ratio

    def start(self, t0, y0, f0):
        span = abs(self.t_end - t0)
        if self.first_step is None:  # also checks that f(t0, y0) is finite
            self.h_abs = initial_step_size(
                self.evaluator, self.backend, t0, y0, f0, self.t_end, self.error_order,
                self.rtol, self.atol + self.tiny,
            )
        else:
            if not self.backend.all_finite(f0):
                raise_non_finite(t0, stats=self.stats)
            self.h_abs = min(self.first_step, span)
        self.h_abs = min(max(self.h_abs, self.min_step), self.max_step)
        if self.boundaries:  # the boundaries still ahead, nearest first
            ahead = [b for b in self.boundaries if self.direction * (b - t0) > 0]
            self.boundaries = ahead if self.direction > 0 else ahead[::-1]

    def propose(self, t):
        h = self.direction * self.h_abs
        if self.direction * (t + 1.01 * h - self.t_end) >= 0.0:
            t_new = self.t_end
            h = self.t_end - t
        else:
            t_new = t + h
        self.on_jump = False
        if self.boundaries:
            while self.boundaries and self.direction * (self.boundaries[0] - t) <= 0:
                self.boundaries.pop(0)
            if self.boundaries and self.direction * (t_new - self.boundaries[0]) >= 0:
                t_new = self.boundaries[0]
                h = t_new - t
                self.on_jump = t_new in self.jumps
        if abs(h) <= 10.0 * math.ulp(max(abs(t), abs(t_new))):
            if self.non_finite_seen:
                raise ODESolverError(
                    f"NaN or inf appeared in trial steps near t={t:.12g} and the step size "
                    f"underflowed (|h|={abs(h):.3g}): `func` returns NaN/inf just after "
                    "this time, or the solution blows up here.",
                    t=float(t),
                    stats=self.stats,
                )
            raise ODESolverError(
                f"Step size underflow at t={t:.12g} (|h|={abs(h):.3g}): the solver cannot "
                "meet the tolerances. The solution may blow up near this time, or the "
                f"problem may be stiff: {STIFF_ADVICE}.",
                t=float(t),
                stats=self.stats,
            )
        return h, t_new

    def judge(self, result, y, h):
        ratio = self.error_ratio(result.error, y, result.y_new)
        if ratio <= 1.0 or (abs(h) <= self.min_step and math.isfinite(ratio)):
            self.h_abs = abs(h) * self.accept_factor(min(ratio, 1.0))
            self.h_abs = min(max(self.h_abs, self.min_step), self.max_step)
            self.abs_y = self._abs_new
            return True
        if not math.isfinite(ratio):
            self.non_finite_seen = True
        self.h_abs = max(abs(h) * self.reject_factor(ratio), self.min_step)
        return False


def zero_atol_floor(atol, eps):
    """ε⁴ where ``atol`` is 0 somewhere, else 0: added to ``atol``, it keeps a component
    that stays exactly 0 from making a scaled norm 0/0 (``rtol`` alone scales it by 0)."""
    return 0.0 if _all_positive(atol) else float(eps) ** 4


def _all_positive(value):
    try:
        return bool(value > 0) if isinstance(value, float) else bool((value > 0).all())
    except (TypeError, ValueError):
        return False


def initial_step_size(evaluator, backend, t0, y0, f0, t_end, error_order, rtol, atol):
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
    with backend.no_grad():
        y0, f0 = backend.detach(y0), backend.detach(f0)
        scale = backend.abs(y0) * rtol + atol
        d0, d1 = backend.rms(y0 / scale), backend.rms(f0 / scale)
        if not math.isfinite(d1):
            raise_non_finite(t0)
        h0 = 1e-6 if (d0 < 1e-5 or d1 < 1e-5) else 0.01 * d0 / d1
        h0 = min(h0, span)
        t1 = t0 + direction * h0
        if direction * (t1 - t_end) > 0:
            t1 = t_end
        y1 = y0 + f0 * (direction * h0)
    # outside no_grad: a func may need autograd inside (e.g. a CNF's trace)
    f1 = backend.detach(evaluator(t1, y1))
    with backend.no_grad():
        d2 = backend.rms((f1 - f0) / scale) / h0
    if not math.isfinite(d2):
        return h0
    if d1 <= 1e-15 and d2 <= 1e-15:
        h1 = max(1e-6, h0 * 1e-3)
    else:
        h1 = (0.01 / max(d1, d2)) ** (1.0 / (error_order + 1))
    return min(100.0 * h0, h1, span)


class StiffnessDetector:
    """Hairer's stiffness test of DOPRI5 (Hairer & Wanner II, Sec. IV.2).

    Each reading is an estimate of ``h·|λ|`` (see ``ExplicitRungeKutta``). While it stays
    above ``threshold`` — the edge of dopri5's stability region on the negative real
    axis, 3.3 — the step size is limited by stability, not accuracy: the problem is stiff
    for this method. ``needed`` such readings in a row (with fewer than 6 readings below
    the threshold in between) stop the solve with advice. Readings are taken every
    ``every``-th accepted step, and at every step while a run of high readings lasts, so
    the test costs almost nothing on non-stiff problems.
    """

    threshold = 3.25
    needed = 15
    every = 10

    def __init__(self, stats):
        self.stats = stats
        self.high = 0
        self.low = 0
        self.ever_high = False

    def wants_reading(self, num_accepted):
        return self.high > 0 or num_accepted % self.every == 0

    def update(self, h_lambda, t):
        if h_lambda > self.threshold:
            self.low = 0
            self.high += 1
            self.ever_high = True
            if self.high >= self.needed:
                raise ODESolverError(
                    f"The problem became stiff near t={t:.12g}: for {self.needed} steps in a "
                    f"row the step size was limited by stability (h·|λ| ≈ {h_lambda:.3g}, "
                    "the edge of the explicit method's stability region), not by accuracy, "
                    f"so an explicit method would need a huge number of tiny steps: "
                    f"{STIFF_ADVICE}.",
                    t=float(t),
                    stats=self.stats,
                )
        else:
            self.low += 1
            if self.low >= 6:
                self.high = 0
