"""Checks for ``00_getting_started``."""

from __future__ import annotations

import numpy as np

from ._core import CheckFailure, as_array, call, exercise, expect

__all__ = ["decay_solution"]

#: ``(y0, lam)`` pairs tried in order. The first has ``|lam| != 1``, so that a flipped sign
#: (``y' = -lam y``) and a forgotten ``lam`` (``y' = y``) are told apart.
_CASES = [(2.5, -0.3), (1.0, -1.0), (-1.0, 0.7)]


def _on_times(student_fn, times, y0, lam) -> np.ndarray:
    """The student's values at an array of times, with a hint for ``math.exp``."""
    try:
        values = call(student_fn, times, y0, lam)
    except CheckFailure as failure:
        if isinstance(failure.__cause__, TypeError):
            raise CheckFailure(
                "Your function works for one time t but raised TypeError for a NumPy array "
                "of times: use NumPy's element-wise functions (`np.exp`, not `math.exp`, "
                "which takes a single number)."
            ) from failure.__cause__
        raise
    return as_array(values, "decay_solution(t_array, y0, lam)")


@exercise("decay_solution")
def decay_solution(student_fn) -> str:
    """Check a closed-form solution ``y(t)`` of ``y' = lam * y, y(0) = y0``.

    The truth is the ODE itself: the candidate must satisfy the initial condition and,
    by central differences, the differential equation at many times. (Section
    "Your first exercise" of ``00_getting_started``.)
    """
    times = np.linspace(0.0, 2.0, 41)
    step = 1e-5
    for y0, lam in _CASES:
        at_zero = as_array(call(student_fn, 0.0, y0, lam), "decay_solution(0, y0, lam)")
        expect(at_zero.shape == (),
               f"Called with a single time t, return a single number; yours has shape "
               f"{at_zero.shape}.")
        expect(not (y0 != 1.0 and np.isclose(at_zero, 1.0)),
               "At t = 0 your solution is 1 whatever y0 is: the solution is y0 times the "
               "exponential.")
        expect(bool(np.isclose(at_zero, y0, rtol=1e-10, atol=1e-12)),
               f"At t = 0 your solution should equal the initial value y0 (tried y0 = {y0}).")
        values = _on_times(student_fn, times, y0, lam)
        expect(values.shape == times.shape,
               f"Called with an array of {times.size} times, return one value per time (an "
               f"array of the same shape as t); yours has shape {values.shape}.")
        plus = _on_times(student_fn, times + step, y0, lam)
        minus = _on_times(student_fn, times - step, y0, lam)
        derivative = (plus - minus) / (2 * step)

        def satisfies(rate, derivative=derivative, values=values):
            return bool(np.allclose(derivative, rate * values, rtol=1e-5, atol=1e-7))

        if not satisfies(lam):
            expect(not satisfies(-lam),
                   "Your function satisfies y' = -lam*y: check the sign in the exponent.")
            expect(not satisfies(1.0),
                   "Your function satisfies y' = y whatever lam is: lam belongs in the "
                   "exponent.")
            raise CheckFailure(f"Your function does not satisfy y' = lam*y (tried y0 = {y0}, "
                               f"lam = {lam}): differentiate your formula by hand and compare.")
    return f"y(0) = y0 and y' = lam*y hold at {times.size} times for {len(_CASES)} (y0, lam) pairs"
