r"""``dopri8``: Hairer's DOP853, the Dormand–Prince pair of order 8 with a dense output of
order 7 (feature: torchdiffeq compatibility, beyond it).

The method: 12 stages and a 13th at the end of the step that is the next step's first
(FSAL), the 8th-order solution propagated; Hairer's error estimate combines an embedded
5th-order and a 3rd-order one,

.. math:: \mathrm{err} = e_5 \cdot \frac{\|e_5\|}{\sqrt{\|e_5\|^2 + 0.01\,\|e_3\|^2}}

(the two norms are taken here as plain RMS, before the controller scales the result by
``atol + rtol |y|``), with step-size exponent ``1/8``. Dense output: three extra stages,
evaluated only for a step that has output times inside it, give Hairer's continuous
extension of order 7 (``CONTD8``),

.. math:: y(t + \theta h) = y + \theta\big(F_0 + (1-\theta)(F_1 + \theta(F_2 +
   (1-\theta)(F_3 + \theta(F_4 + (1-\theta)(F_5 + \theta F_6))))))\big),

with :math:`F_0 = y_{new} - y`, :math:`F_1 = h f - F_0`,
:math:`F_2 = 2F_0 - h(f + f_{new})` and :math:`F_{3..6} = h \sum_i d_{ji} k_i`.

The coefficients are the published ones of Hairer, Nørsett & Wanner, *Solving ODEs I*,
Sec. II.10 (the DOP853 code), read at run time from SciPy's copy of them
(``scipy.integrate._ivp.dop853_coefficients``) rather than typed again; the tests check
them against the order conditions (order 5 trees, 8th-order convergence) and against
``solve_ivp(method='DOP853')``.

It is **not** torchdiffeq's ``dopri8``, which is Prince & Dormand's RK8(7)13M with a
fourth-order interpolant: both are Dormand–Prince pairs of order 8, their numbers agree
to the tolerance, not to rounding.
"""

import numpy as np

from ._steps import ExplicitRungeKutta, StepResult, lincomb
from ._tableaus import ButcherTableau

__all__ = ["dop853_tableau", "Dop853Step", "DOP853_DOC"]

DOP853_DOC = (
    "Dormand–Prince 8(5,3) (Hairer's DOP853, scipy's 'DOP853'): order 8, FSAL (12 new "
    "evaluations per step), Hairer's combined 5th/3rd-order error estimate, a dense "
    "output of order 7 (3 extra evaluations in a step with output times inside it); the "
    "last step lands exactly on t[-1]. torchdiffeq's 'dopri8' is another order-8 pair "
    "(Prince & Dormand's RK8(7)13M): the same accuracy, not the same numbers. Source: "
    "Hairer, Nørsett & Wanner, Solving ODEs I, Sec. II.10; Prince & Dormand, J. Comput. "
    "Appl. Math. 7 (1981)."
)

_COEFFICIENTS = None


def _coefficients():
    global _COEFFICIENTS
    if _COEFFICIENTS is None:
        from scipy.integrate._ivp import dop853_coefficients as dop

        _COEFFICIENTS = dop
    return _COEFFICIENTS


def dop853_tableau():
    """The 13-stage FSAL tableau (the 13th row of ``a`` is ``b``); ``b_hat = b - e5``."""
    dop = _coefficients()
    s = dop.N_STAGES + 1
    a = np.array(dop.A[:s, :s], dtype=float)
    b = np.append(np.array(dop.B, dtype=float), 0.0)
    return ButcherTableau(a, b, np.array(dop.C[:s], dtype=float), b_hat=b - dop.E5,
                          order=8, embedded_order=7, name="dopri8",
                          reference="Hairer, Nørsett & Wanner I, Sec. II.10 (DOP853)")


class Dop853Step(ExplicitRungeKutta):
    """A DOP853 step: the plain stages, Hairer's error combination, the 7th-order dense
    output with its three extra stages (computed once per step, when first needed)."""

    def __init__(self, tableau, evaluator, backend):
        super().__init__(tableau, evaluator, backend, fast=False)  # the stages as a list
        dop = _coefficients()
        self.detects_stiffness = False  # Hairer's test of DOP853 has another threshold
        self.needs_end_derivative = False
        self.e3 = tuple((j, float(w)) for j, w in enumerate(dop.E3) if w != 0)
        s = dop.N_STAGES + 1
        self.extra = tuple(
            (float(dop.C[i]), tuple((j, float(w)) for j, w in enumerate(dop.A[i, :i]) if w))
            for i in range(s, dop.N_STAGES_EXTENDED)
        )
        self.d = tuple(tuple((j, float(w)) for j, w in enumerate(row) if w) for row in dop.D)
        self._cache = (None, None)

    def step(self, t, h, t_new, y, f):
        result = super().step(t, h, t_new, y, f)
        backend = self.backend
        with backend.no_grad():
            e5 = result.error
            e3 = lincomb(None, h, self.e3, result.stages)
            n5, n3 = backend.rms(e5), backend.rms(e3)
            denominator = (n5 * n5 + 0.01 * n3 * n3) ** 0.5
            error = e5 * (n5 / denominator) if denominator > 0 else e5
        return StepResult(result.y_new, result.f, result.f_new, error, (t, result.stages),
                          result.stiffness)

    def interpolate(self, t, h, y, result, theta):
        t0, ks = result.stages
        cached_key, terms = self._cache
        if cached_key is not ks:
            ks = list(ks)
            for c, pairs in self.extra:
                ks.append(self.evaluator(t0 + c * h, lincomb(y, h, pairs, ks)))
            delta = result.y_new - y
            f_old, f_new = ks[0], ks[len(ks) - 1 - len(self.extra)]
            terms = [delta, f_old * h - delta, delta * 2.0 - (f_old + f_new) * h]
            terms += [lincomb(None, h, pairs, ks) for pairs in self.d]
            self._cache = (result.stages[1], terms)
        value = None
        for i, term in enumerate(reversed(terms)):
            value = term if value is None else value + term
            value = value * (theta if i % 2 == 0 else 1.0 - theta)
        return y + value
