"""Small named checks of the arguments of ``odeint``; each raises a clear ValueError."""

import math
import numbers

import numpy as np

from ._backend import is_torch

__all__ = ["check_times", "check_y0_finite", "check_positive", "check_int", "check_theta"]


def check_times(t):
    """Return the output times as a list of floats; they must be 1-D and monotonic."""
    if is_torch(t):
        t = t.detach().tolist()
    elif isinstance(t, np.ndarray):
        t = t.tolist()
    if isinstance(t, (list, tuple)) and all(type(v) is float for v in t):
        times = list(t)  # the common case, checked in pure Python (fast for short t)
    else:
        try:
            arr = np.asarray(t, dtype=float)
        except (TypeError, ValueError):
            raise ValueError(
                "`t` must be a 1-D sequence of output times, e.g. t=[0.0, 1.0]."
            ) from None
        if arr.ndim != 1:
            got = "a scalar" if arr.ndim == 0 else f"shape {arr.shape}"
            raise ValueError(
                f"`t` must be a 1-D sequence of output times (got {got}), e.g. t=[0.0, 1.0]."
            )
        times = arr.tolist()
    if not times:
        raise ValueError("`t` must contain at least one time (the initial time t[0]).")
    if not all(math.isfinite(v) for v in times):
        raise ValueError("`t` contains NaN or inf.")
    if len(times) > 1:
        increasing = times[1] > times[0]
        for i in range(1, len(times)):
            if (times[i] <= times[i - 1]) if increasing else (times[i] >= times[i - 1]):
                way = "increasing" if increasing else "decreasing"
                raise ValueError(
                    f"`t` must be strictly increasing or strictly decreasing; it starts "
                    f"{way} but t[{i}]={times[i]:g} follows t[{i - 1}]={times[i - 1]:g}."
                )
    return times


def check_y0_finite(y0, ops):
    if ops.size == 0:
        raise ValueError("`y0` is empty; it must hold at least one number.")
    if not ops.all_finite(y0):
        raise ValueError("`y0` contains NaN or inf; the initial state must be finite.")


def check_positive(value, name, allow_array=False):
    """A positive finite number (or, if allowed, an array/tensor of them)."""
    if allow_array and not isinstance(value, numbers.Number):
        if is_torch(value):
            arr = np.asarray(value.detach().tolist(), dtype=float)
        else:
            try:
                arr = np.asarray(value, dtype=float)
            except (TypeError, ValueError):
                raise ValueError(f"`{name}` must be a positive number, got {value!r}.") from None
        if arr.size == 0 or not np.all(np.isfinite(arr)) or np.any(arr <= 0):
            raise ValueError(f"`{name}` must be positive and finite, got {value!r}.")
        return value
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"`{name}` must be a positive number, got {value!r}.")
    if not (math.isfinite(value) and value > 0):
        raise ValueError(f"`{name}` must be positive and finite, got {value!r}.")
    return float(value)


def check_int(value, name, minimum=1):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ValueError(f"`{name}` must be an integer >= {minimum}, got {value!r}.")
    return int(value)


def check_theta(value):
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not 0 <= value <= 1:
        raise ValueError(f"`theta` must be a number in [0, 1], got {value!r}.")
    return float(value)
