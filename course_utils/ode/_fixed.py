"""The fixed-grid driver shared by every fixed-step method (RK, implicit, multistep).

What it does with the output times ``t`` (also stated in ``odeint``'s docstring):

* it steps on the uniform grid ``t[0] + k * step_size`` (towards ``t[-1]``); when the
  span is not a multiple of ``step_size`` the *last* step is shortened to land
  exactly on ``t[-1]``;
* an output time on the grid (within ``1e-9`` of a step) returns the computed value
  itself, so for the common case of a uniform ``t`` that is a multiple of
  ``step_size`` the result is exactly the method's solution;
* an output time between grid points is interpolated by the cubic Hermite
  polynomial through ``y`` and ``f`` at both ends of its step (error O(h^4); the
  extra ``f`` evaluations are counted in ``nfe``).
"""

import math

from ._backend import raise_non_finite
from ._interp import evaluate_hermite, hermite_coefficients

__all__ = ["solve_fixed_grid", "make_grid"]

_SNAP = 1e-9


def make_grid(t0, t_end, step_size):
    """Return ``(num_steps, grid_time)`` for the fixed grid from ``t0`` to ``t_end``."""
    direction = 1.0 if t_end > t0 else -1.0
    h = direction * step_size
    ratio = abs(t_end - t0) / step_size
    num_full = round(ratio)
    if num_full >= 1 and abs(ratio - num_full) <= _SNAP * max(1.0, ratio):
        num_steps = num_full  # the grid lands on t_end
    else:
        num_full = math.floor(ratio)
        num_steps = num_full + 1  # a shorter last step
    last = num_steps

    def grid_time(k):
        return t_end if k == last else t0 + k * h

    return num_steps, num_full, grid_time


def _output_targets(times, num_steps, num_full, grid_time, h):
    """For each output after the first: ``(k, None)`` if it is grid point ``k``,
    else ``(k, theta)`` if it lies at ``t_k + theta (t_{k+1} - t_k)``."""
    t0 = times[0]
    targets = []
    for i, t_out in enumerate(times[1:], start=1):
        if i == len(times) - 1:
            targets.append((num_steps, None))
            continue
        ratio = (t_out - t0) / h
        nearest = round(ratio)
        if abs(ratio - nearest) <= _SNAP * max(1.0, abs(ratio)) and nearest <= num_full:
            targets.append((nearest, None))
            continue
        k = min(math.floor(ratio), num_steps - 1)
        t_k, t_next = grid_time(k), grid_time(k + 1)
        targets.append((k, (t_out - t_k) / (t_next - t_k)))
    return targets


def solve_fixed_grid(method, evaluator, ops, y0, times, options, stats):
    """Integrate on the fixed grid and return the stacked outputs ``(len(t), *shape)``."""
    step_size = options.step_size
    t0, t_end = times[0], times[-1]
    num_steps, num_full, grid_time = make_grid(t0, t_end, step_size)
    if num_steps > options.max_steps:
        raise ValueError(
            f"`step_size`={step_size:g} needs {num_steps} steps to cover "
            f"[{t0:g}, {t_end:g}], more than `max_steps`={options.max_steps}; "
            "increase `step_size` or `max_steps`."
        )
    direction = 1.0 if t_end > t0 else -1.0
    h = direction * step_size
    targets = _output_targets(times, num_steps, num_full, grid_time, h)
    stepper = method.make_stepper(evaluator, ops, options, stats, h)
    check_each_step = ops.name == "numpy"  # cheap there; torch checks once at the end

    outputs = [y0]
    f = ops.first_call(evaluator, t0, y0)
    if check_each_step and not ops.all_finite(f):
        raise_non_finite(t0)
    t, y = t0, y0
    step_sizes, step_times = stats.step_sizes, stats.step_times
    num_targets = len(targets)
    pointer = 0
    for k in range(num_steps):
        t_next = grid_time(k + 1)
        y_next, f_used, f_next = stepper.step(t, t_next, y, f)
        step_sizes.append(t_next - t)
        step_times.append(t)
        if check_each_step and not ops.all_finite(y_next):
            raise_non_finite(t_next)
        while pointer < num_targets:
            index, theta = targets[pointer]
            if theta is None and index == k + 1:
                outputs.append(y_next)
            elif theta is not None and index == k:
                if f_used is None:
                    f_used = evaluator(t, y)
                if f_next is None:
                    f_next = evaluator(t_next, y_next)
                coeffs = hermite_coefficients(t_next - t, y, y_next, f_used, f_next)
                outputs.append(evaluate_hermite(coeffs, theta))
            else:
                break
            pointer += 1
        t, y, f = t_next, y_next, f_next
    stats.num_accepted += num_steps

    ys = ops.stack(outputs)
    if not check_each_step and not ops.all_finite(ys):
        for i in range(1, len(outputs)):
            if not ops.all_finite(outputs[i]):
                raise_non_finite(times[i - 1], times[i])
    return ys
