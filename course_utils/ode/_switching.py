r"""Controllers of the stiff solvers (issue 14): the stiff PI controller and ``method="auto"``.

:class:`StiffController` is the PI controller (``_controllers.PIController``) with two
additions for implicit pairs: a step whose Newton iteration failed (``error`` is None)
is rejected and retried with half the step, not raised; and after an accepted step the
step size is kept when the PI formula would grow it by less than 20 %, so the LU factors
of ``I - hγJ`` serve the next step too (Hairer & Wanner II, Sec. IV.8, RADAU5's rule).

:class:`SwitchingStep` with :class:`SwitchingController` is ``method="auto"``, in the
spirit of Petzold's LSODA (SIAM J. Sci. Stat. Comput. 4, 1983): it starts with dopri5
and reads Hairer's stiffness estimate ``h·|λ|`` (``_controllers.StiffnessDetector``) on
every step, which costs no evaluation of ``f``. After ``needed`` = 5 readings in a row
above 80 % of dopri5's stability limit (``enter_above``: at tight tolerances its
controller creeps up to the limit, 3.25, from below) it switches to the stiff method
(radau5) instead of stopping — and also when 6 of dopri5's last 10 attempts were
rejected (at loose tolerances an unstable explicit solution can blow up, accepted and
rejected steps alternating, before the test has its readings). While stiff, after every
accepted step it bounds the spectral radius of ``J`` by ``‖J‖∞`` (the Jacobian the stiff
method holds anyway): when ``|h|·‖J‖∞`` stays below half of dopri5's limit for
``leave_after`` = 15 steps in a row, the explicit method could take the same steps
stably, so it switches back. Every switch is recorded in ``stats.switches`` as
``(t, method)``.
"""

from ._controllers import PIController, StiffnessDetector

__all__ = ["StiffController", "SwitchingStep", "SwitchingController"]

NEWTON_FAILURE_FACTOR = 0.5
HOLD_BELOW = 1.2  # keep h (and the LU factors) when the PI formula grows it less than this


class StiffController(PIController):
    r"""``PIController`` for implicit pairs: Newton failure rejects; small growth is held.

    With ``predictive=True`` (radau5) the factor after an accepted step is Gustafsson's
    *predictive* one (Hairer & Wanner II, Sec. IV.8, eq. (8.25); RADAU5 and scipy's
    ``Radau``): with the last accepted step's :math:`h_{n-1}, err_{n-1}`,

    .. math:: h_{n+1} = h_n \cdot 0.92\, err_n^{-α}
       \min\Big(1, \frac{h_n}{h_{n-1}} \Big(\frac{err_{n-1}}{err_n}\Big)^{α}\Big),

    which predicts from the trend of the error that a growing error will keep growing,
    and so avoids the rejections (each one a new pair of LU factorisations) that the PI
    formula runs into on the fast transitions of Van der Pol. It also keeps ``h`` when
    the factor is in [0.9, 1.2), not only [1, 1.2): a step that would shrink by less than
    10 % is still accepted nearly always, and keeping its LU factors saves a third of
    them (on the stiff benchmark: 31 % fewer LUs for 3 % more evaluations).
    """

    def __init__(self, *args, predictive=False, **kwargs):
        super().__init__(*args, **kwargs)
        self.predictive = predictive
        self.hold_from = 0.9 if predictive else 1.0
        self.h_last = None  # |h| and error ratio of the last accepted step (predictive)

    def judge(self, result, y, h):
        if result.error is None:  # Newton failed, even with a fresh Jacobian
            self.h_abs = abs(h) * NEWTON_FAILURE_FACTOR
            self.rejected_last = True
            return False
        self._h = abs(h)
        accepted = super().judge(result, y, h)
        if accepted and self.hold_from <= self.h_abs / abs(h) < HOLD_BELOW:
            self.h_abs = abs(h)
        return accepted

    def trend(self, error_ratio):
        if not self.predictive:
            return super().trend(error_ratio)
        term = 1.0
        if self.h_last is not None:
            h_last, error_last = self.h_last
            term = min(1.0, self._h / h_last * (error_last / error_ratio) ** self.alpha)
        self.h_last = (self._h, error_ratio)
        return term

    def forget_history(self):
        super().forget_history()
        self.h_last = None


class SwitchingStep:
    """Steps with ``explicit`` (dopri5) or ``stiff`` — whichever the controller chose."""

    def __init__(self, explicit, stiff):
        self.explicit, self.stiff = explicit, stiff
        self.current = explicit

    @property
    def needs_end_derivative(self):  # (dopri5's results have f at both ends anyway)
        return self.current.needs_end_derivative

    def set_tolerances(self, rtol, atol):
        self.stiff.set_tolerances(rtol, atol)

    def step(self, t, h, t_new, y, f):
        inner = self.current
        result = inner.step(t, h, t_new, y, f)
        return result._replace(stages=(inner, result.stages))

    def interpolate(self, t, h, y, result, theta):
        inner, stages = result.stages
        return inner.interpolate(t, h, y, result._replace(stages=stages), theta)


class SwitchingController:
    """Drives a :class:`SwitchingStep`: a PI controller for each method, and the switches."""

    snap = 0.0
    rejects_non_finite = True  # both of its controllers judge the error ratio
    on_jump = False  # no jump_t: the stiff methods take none of the PI options
    give_up_after = 6  # rejected dopri5 steps among its last `window` that also go stiff
    window = 10
    needed = 5  # readings in a row above dopri5's limit that make it switch
    leave_after = 15  # steps in a row well inside dopri5's region that make it switch back
    # a reading above this means dopri5's step is held by stability: 80 % of its limit,
    # since at tight tolerances the PI controller creeps up to the limit from below
    enter_above = 0.8 * StiffnessDetector.threshold
    leave_below = 0.5 * StiffnessDetector.threshold  # |h|·‖J‖∞ well inside dopri5's region

    def __init__(self, step, explicit_controller, stiff_controller, names):
        self.step = step
        self.controllers = {step.explicit: explicit_controller, step.stiff: stiff_controller}
        self.names = names  # (explicit name, stiff name)
        self.num_accepted = 0

    def attach(self, backend, evaluator, stats, t0, t_end):
        for controller in self.controllers.values():
            controller.attach(backend, evaluator, stats, t0, t_end)
        self.stats = stats
        self.outcomes = []  # dopri5's last `window` attempts: True for a rejection
        self.detector = StiffnessDetector(stats)
        self.nonstiff_run = 0
        return self

    @property
    def current(self):
        return self.controllers[self.step.current]

    def start(self, t0, y0, f0):
        self.controllers[self.step.explicit].start(t0, y0, f0)

    def propose(self, t):
        self.t = t
        step = self.step
        if step.current is step.explicit:
            step.explicit.check_stiffness = True  # a reading costs no evaluation of f
        return self.current.propose(t)

    def judge(self, result, y, h):
        step = self.step
        accepted = self.current.judge(result, y, h)
        if step.current is step.explicit:
            self.outcomes = self.outcomes[-(self.window - 1):] + [not accepted]
            if sum(self.outcomes) >= self.give_up_after:
                self._switch(step.stiff, 0.0)  # dopri5 is failing (e.g. blowing up): go stiff
                return False
        if not accepted:
            return False
        self.num_accepted += 1
        if step.current is step.explicit:
            if result.stiffness is not None and self._reads_stiff(result.stiffness):
                self._switch(step.stiff, h)
        else:
            if abs(h) * step.stiff.jacobian.norm() < self.leave_below:
                self.nonstiff_run += 1
                if self.nonstiff_run >= self.leave_after:
                    self._switch(step.explicit, h)
            else:
                self.nonstiff_run = 0
        return True

    def _reads_stiff(self, h_lambda):
        detector = self.detector
        if h_lambda > self.enter_above:
            detector.low = 0
            detector.high += 1
            detector.ever_high = True
            return detector.high >= self.needed
        detector.low += 1
        if detector.low >= 6:
            detector.high = 0
        return False

    def _switch(self, to, h):
        old = self.current
        self.step.current = to
        new = self.current
        new.h_abs = old.h_abs
        self.outcomes = []
        new.forget_history()  # its error history is from before the other method's steps
        self.detector = StiffnessDetector(self.stats)
        self.nonstiff_run = 0
        name = self.names[1] if to is self.step.stiff else self.names[0]
        self.stats.switches.append((self.t + h, name))
