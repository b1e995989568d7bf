"""Checks for ``00_getting_started``."""

from __future__ import annotations

import numpy as np

from ._core import as_array, call, exercise, expect

__all__ = ["decay_solution"]


@exercise("decay_solution")
def decay_solution(student_fn) -> str:
    """Check a closed-form solution ``y(t)`` of ``y' = lam * y, y(0) = y0``.

    The truth is the ODE itself: the candidate must satisfy the initial condition and,
    by central differences, the differential equation at many times. (Section
    "Your first exercise" of ``00_getting_started``.)
    """
    times = np.linspace(0.0, 2.0, 41)
    step = 1e-5
    for y0, lam in [(1.0, -1.0), (2.5, -0.3), (-1.0, 0.7)]:
        at_zero = as_array(call(student_fn, 0.0, y0, lam), "decay_solution(0, y0, lam)")
        expect(
            at_zero.shape == () and np.isclose(at_zero, y0, rtol=1e-10, atol=1e-12),
            f"At t = 0 your solution should equal the initial value y0 (tried y0 = {y0}).",
        )
        values = as_array(call(student_fn, times, y0, lam), "decay_solution(t_array, y0, lam)")
        expect(
            values.shape == times.shape,
            "Called with an array of times, return one value per time: use `np.exp`, "
            "which works element-wise, rather than `math.exp`.",
        )
        plus = as_array(call(student_fn, times + step, y0, lam))
        minus = as_array(call(student_fn, times - step, y0, lam))
        derivative = (plus - minus) / (2 * step)
        expect(
            np.allclose(derivative, lam * values, rtol=1e-5, atol=1e-7),
            f"Your function does not satisfy y' = lam*y (tried y0 = {y0}, lam = {lam}): "
            "differentiate your formula by hand and compare.",
        )
    return "y(0) = y0 and y' = lam*y hold at 41 times for 3 (y0, lam) pairs"
